"""What the command-line tools share: their common options and the one-line report of an error a user can fix."""
import errno
import functools
import os
import sys

__all__ = ['guarded', 'add_cache_argument', 'add_common_arguments', 'parse_common']

CACHE_HELP = 'shared cache for text embeddings, negatives and features (default: $MMOOD_CACHE or ~/.cache/mmood)'


#: errno values of a folder a run cannot write to: read-only, no permission, full
UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


def unwritable_message(err: OSError) -> str:
    """One line for a write refused by the file system: the path, the reason and the options that choose folders."""
    where = err.filename or 'a file'
    return (f'cannot write {where}: {err.strerror or err}. Choose a writable folder: --work-dir for the run\'s logs '
            f'and results, --cache-dir (or $MMOOD_CACHE) for the shared cache.')


def guarded(main):
    """Decorator of a tool's ``main(argv)``: an error the user can fix is printed as one line, ``error: ...``, and the
    tool exits with status 2 -- a ``mmood.utils.UserError`` (a wrong file, option, path or checkpoint) and a write the
    file system refuses (a read-only or full work dir or cache folder: :func:`unwritable_message`)."""
    from ..utils import UserError

    @functools.wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except UserError as err:
            print(f'error: {err}', file=sys.stderr)
        except OSError as err:
            if err.errno not in UNWRITABLE:
                raise
            print(f'error: {unwritable_message(err)}', file=sys.stderr)
        raise SystemExit(2) from None

    return wrapper


def add_cache_argument(parser, cache_help: str = CACHE_HELP):
    """``--cache-dir``: the one spelling of the cache folder option (resolved by
    :func:`mmood.apis.resolve_cache_dir`)."""
    parser.add_argument('--cache-dir', help=cache_help)
    return parser


def add_common_arguments(parser, cache_help: str = CACHE_HELP):
    """The options every runner-building tool takes: --cache-dir, --cfg-options, --launcher, --local_rank."""
    from mmengine.config import DictAction
    add_cache_argument(parser, cache_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.head.grouping.ngroup=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_common(parser, argv=None):
    """Parse, and export LOCAL_RANK for launchers that pass --local_rank instead of setting it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
