"""TOE end to end on the digits demo's tiny CLIP: tools/dataset_converters/make_text_outliers.py writes the
word-level list (WordNet window of a small corpus), tools/train.py trains on cached features and lowers the loss, a
run killed with no cleanup and resumed ends with the weights and the outlier-draw state of an uninterrupted one,
tools/test.py detects digits 5-9 and noise, and 2 gloo processes (tools/dist_test.sh) give the same metrics and
per-sample scores."""
import glob
import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO, assert_two_processes_agree, kill_and_resume, run_results, run_tool
from mmengine.config import Config

from mmood.cache import CacheStore
from mmood.features import find_set_features, model_identity, train_set_source
from mmood.features.runtime import build_model
from mmood.text import read_outlier_header, read_outlier_list

CONFIG = osp.join(REPO, 'configs', 'toe', 'toe_word_tiny_digits.py')
MAKE_OUTLIERS = 'dataset_converters/make_text_outliers'  # the tool writing the outlier list
# 40 corpus nouns + the ID name "zero" (removed) -> 40 outliers: 2 batches per epoch (32 + 8), 100 epochs = 200 steps
ITERS = 200
MIN_AUROC_DIGITS = 70.0  # measured 74.1-87.8 over seeds 0-4 (docs/toe.md); chance is 50
MIN_AUROC_NOISE = 70.0  # measured 75.8-91.2
MIN_ACCURACY = 85.0


def losses(log_dir):
    with open(glob.glob(osp.join(log_dir, '2*', '2*.log'))[-1]) as f:
        return [float(v) for v in re.findall(r' loss: ([0-9.]+)', f.read())]


def head_state(path):
    state = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    return {k: v for k, v in state.items() if k.startswith('head.') or k == 'outlier_step'}


@pytest.fixture(scope='module')
def trained(digits_clip, corpus_dir, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toe_digits'))
    options = [f'model.backbone.pretrained={digits_clip["weights"]}', f'model.outliers.corpus={corpus_dir}',
               'model.outliers.window=(0.0,100.0)', 'train_cfg.epochs=100', 'default_hooks.checkpoint.interval=100',
               'default_hooks.checkpoint.max_keep_ckpts=2', 'default_hooks.logger.interval=20']
    work = osp.join(root, 'train')
    common = ['--cache-dir', digits_clip['cache'], '--cfg-options', *options]
    texts = run_tool(MAKE_OUTLIERS, [CONFIG, '--work-dir', work, *common])
    listed = osp.join(work, 'toe_outliers_word.txt')
    assert read_outlier_list(listed) == texts and len(texts) == 40
    assert 'This is a photo of a thing0' in texts and 'This is a photo of a zero' not in texts  # ID name removed
    assert read_outlier_header(listed)['level'] == 'word'
    run_tool('train', [CONFIG, '--work-dir', work, *common], threads=1)  # as the killed run's process
    return dict(root=root, work=work, common=common, cache=digits_clip['cache'], options=options,
                weights=digits_clip['weights'],
                checkpoint=osp.join(work, f'iter_{ITERS}.pth'))


def test_training_reads_the_list_lowers_the_loss_and_resumes_exactly(trained):
    with open(glob.glob(osp.join(trained['work'], '2*', '2*.log'))[-1]) as f:
        log = f.read()
    assert '40 word-level outliers read from' in log and 'Extracting' in log  # the list of make_outliers.py
    assert f'Training 100 epochs of 2 iterations = {ITERS} iterations' in log
    curve = losses(trained['work'])
    assert len(curve) == ITERS // 20 and curve[-1] < 0.7 * curve[0], curve
    done = head_state(trained['checkpoint'])
    assert int(done['outlier_step']) == ITERS

    # the same run killed (os._exit(9), no cleanup) at iteration 150, after its checkpoint at 100, then resumed:
    # the same head and the same outlier draws as the uninterrupted run
    resumed = osp.join(trained['root'], 'resumed')
    os.makedirs(resumed)
    shutil.copy(osp.join(trained['work'], 'toe_outliers_word.txt'), resumed)
    again = head_state(kill_and_resume(trained['root'], CONFIG, resumed, trained['common'], 150, 100, ITERS))
    assert list(again) == list(done) and int(again['outlier_step']) == ITERS
    for key in done:  # one intra-op thread in all three processes; equal up to float summation order
        torch.testing.assert_close(again[key], done[key], rtol=1e-6, atol=1e-7, msg=key)
    # and the draws matter: a run with another outlier seed ends elsewhere
    other = osp.join(trained['root'], 'other_seed')
    os.makedirs(other)
    shutil.copy(osp.join(trained['work'], 'toe_outliers_word.txt'), other)
    run_tool('train', [CONFIG, '--work-dir', other, *trained['common'], 'model.seed=7'])
    assert not torch.equal(head_state(osp.join(other, f'iter_{ITERS}.pth'))['head.fc.weight'], done['head.fc.weight'])


def test_detects_unseen_digits_and_two_processes_agree(trained):
    args = [trained['checkpoint'], '--cache-dir', trained['cache'], '--cfg-options', *trained['options']]
    one = osp.join(trained['root'], 'one')
    assert run_tool('test', [CONFIG, args[0], '--work-dir', one, *args[1:]])
    metrics, rows = run_results(one)
    assert metrics['ID/accuracy'] > MIN_ACCURACY, metrics
    assert metrics['digits 5-9/AUROC'] > MIN_AUROC_DIGITS and metrics['noise/AUROC'] > MIN_AUROC_NOISE, metrics
    assert metrics['digits 5-9/AUROC'] == metrics['toe_energy/digits 5-9/AUROC']  # energy is the primary score
    assert {'score_toe_energy', 'score_toe_msp', 'score_toe_maxlogit'} <= set(rows[0])
    assert len(rows) == 271 + 269 + 200

    assert_two_processes_agree(CONFIG, args, one, osp.join(trained['root'], 'two'), 'toe_energy')


def test_caption_level_filter_paths_and_index_file(trained, tmp_path):
    """The caption filter on the cached ID-train features of the model's tower keeps what the same filter keeps with
    a separately built filter tower that re-encodes the ID-train images (the ViT-B/32 path of the ImageNet config);
    the reference's index file keeps exactly its rows; blank captions never reach the list."""
    captions = [f'a photo of the digit {w}' for w in ('zero', 'one', 'two', 'three', 'four')] + \
        [f'a {c} {t} on a table' for c in ('red', 'green', 'blue', 'small') for t in ('car', 'cup', 'dog')] + \
        ['', 'the number 3', 'handwritten 1', 'a city street at night', 'a plate of food']
    source = tmp_path / 'captions.txt'
    source.write_text('\n'.join(captions) + '\n')
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.pretrained = trained['weights']
    cfg.model.cache_dir = trained['cache']
    cfg.model.outliers.update(level='caption', source=str(source), keep=0.25)
    model = build_model(cfg)
    cache = CacheStore(trained['cache'])
    train_set = find_set_features(cache, model_identity(model), train_set_source(cfg.train_dataloader.dataset),
                                  ('pre_proj', ))
    kept = model.outlier_texts(str(tmp_path / 'a'), cache, train_set)
    assert len(kept) == round(0.25 * (len(captions) - 1)) and '' not in kept  # blank captions are not scored
    cfg.model.outliers.filter_backbone = dict(cfg.model.backbone)
    again = build_model(cfg).outlier_texts(str(tmp_path / 'b'), cache, train_set)
    assert again == kept
    header = read_outlier_header(str(tmp_path / 'b' / 'toe_outliers_caption.txt'))
    assert header['level'] == 'caption' and 'Mahalanobis' in header['rule'] and header['count'] == str(len(kept))
    index = tmp_path / 'index.npy'
    np.save(index, np.array([3, 17, 0, 3]))  # row 17 is the blank caption
    cfg.model.outliers.update(filter_backbone=None, index_file=str(index))
    listed = build_model(cfg).outlier_texts(str(tmp_path / 'c'), cache, train_set)
    assert listed == [captions[0], captions[3]]


def test_make_outliers_description_json_and_reference_npy(trained, tmp_path, capsys):
    """tools/dataset_converters/make_text_outliers.py: a descriptor JSON gives TOE's strings (reference strip,
    duplicates kept; fixed with fix_strip); the reference's object .npy word list is read only with --allow-pickle
    and converted to the list."""
    descriptors = tmp_path / 'descriptors.json'
    descriptors.write_text(json.dumps({'tench': ['a freshwater fish', 'olive green'],
                                       'goldfish': ['a freshwater fish']}))
    argv = [CONFIG, '--cache-dir', trained['cache'], '--cfg-options', *trained['options']]
    texts = run_tool(MAKE_OUTLIERS, argv[:1] + ['--level', 'description', '--source', str(descriptors),
                                                '--work-dir', str(tmp_path / 'd')] + argv[1:])
    assert len(texts) == 15 and texts[0] == 'This is a photo of a freshwater fish'
    assert 'This is a blurry photo of This is a photo of a freshwater fis' in texts  # TOE-8, as the reference
    header = read_outlier_header(str(tmp_path / 'd' / 'toe_outliers_description.txt'))
    assert header['fix_strip'] == 'False' and header['count'] == '15' and header['unique'] == '10'
    assert len(header['source_sha256']) == 16
    fixed = run_tool(MAKE_OUTLIERS, argv[:1] + ['--level', 'description', '--source', str(descriptors),
                                                '--work-dir', str(tmp_path / 'f')] + argv[1:] +
                     ['model.outliers.fix_strip=True'])
    assert len(fixed) == 10 and 'This is a blurry photo of a freshwater fish' in fixed
    # a list made under other options is never reused silently: refused, then rewritten with --force
    other = argv[:1] + ['--level', 'description', '--source', str(descriptors), '--work-dir', str(tmp_path / 'd')] + \
        argv[1:] + ['model.outliers.fix_strip=True']
    with pytest.raises(SystemExit):
        run_tool(MAKE_OUTLIERS, other)
    assert 'made with other outlier options' in capsys.readouterr().err
    assert run_tool(MAKE_OUTLIERS, other[:1] + ['--force'] + other[1:]) == fixed

    words = tmp_path / 'words.npy'
    np.save(words, np.array(['This is a photo of a kite', 'This is a photo of a one', 'lamp'], dtype=object),
            allow_pickle=True)
    npy = argv[:1] + ['--level', 'word', '--source', str(words), '--work-dir', str(tmp_path / 'w')] + argv[1:]
    with pytest.raises(SystemExit):
        run_tool(MAKE_OUTLIERS, npy)
    assert '--allow-pickle' in capsys.readouterr().err
    with pytest.warns(UserWarning, match='pickle'):
        listed = run_tool(MAKE_OUTLIERS, npy[:1] + ['--allow-pickle'] + npy[1:])
    assert listed == ['This is a photo of a kite', 'This is a photo of a lamp']  # "one" is an ID class name
    assert read_outlier_list(str(tmp_path / 'w' / 'toe_outliers_word.txt')) == listed


def test_verify_data_checks_the_outlier_inputs(tmp_path, capsys):
    from conftest import load_tool
    tool = load_tool('verify_data')
    config = osp.join(REPO, 'configs', 'toe', 'toe_description_vitb16_in1k.py')
    assert tool.main([config, '--no-decode', '--cfg-options', f'model.outliers.source={tmp_path}/none.json']) == 1
    assert 'outlier source not found' in capsys.readouterr().out
    source = tmp_path / 'descriptors.json'
    source.write_text(json.dumps({'tench': ['a freshwater fish', 'olive green'], 'goldfish': ['orange']}))
    tool.main([config, '--no-decode', '--cfg-options', f'model.outliers.source={source}'])
    out = capsys.readouterr().out
    assert f'description source {source}: 3 entries, sha256 ' in out and 'outlier source' not in out
    captions = tmp_path / 'captions.txt'
    captions.write_text('a dog\n\na cat\n')
    np.save(tmp_path / 'index.npy', np.array([0, 3]))
    caption_config = osp.join(REPO, 'configs', 'toe', 'toe_caption_vitb16_in1k.py')
    tool.main([caption_config, '--no-decode', '--cfg-options', f'model.outliers.source={captions}',
               f'model.outliers.index_file={tmp_path}/index.npy'])
    out = capsys.readouterr().out
    assert '3 entries' in out and 'indices outside [0, 3)' in out
