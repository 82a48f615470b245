"""TOE textual outliers: description templating (T9: the reference's character-set strip), word cleaning, the WordNet
window, the caption filter, outlier-list files and per-class selection."""
import warnings

import numpy as np
import pytest
import torch

from mmood.cache import file_sha256
from mmood.text import (DESCRIPTION_PREFIX, OUTLIER_LEVELS, TOE_TEMPLATES, WORD_TEMPLATE, caption_filter,
                        debug_expand, description_outliers, read_outlier_header, read_outlier_list,
                        select_per_class, word_outliers, wordnet_window, write_outlier_list)
from mmood.utils.errors import ConfigError, DataError, UserError


def test_constants():
    assert OUTLIER_LEVELS == ('word', 'description', 'caption')
    assert WORD_TEMPLATE.format('tiger shark') == 'This is a photo of a tiger shark'
    assert DESCRIPTION_PREFIX == 'This is a photo of '
    assert [t.format('x') for t in TOE_TEMPLATES] == [
        'This is a blurry photo of x', 'This is a photo of many x', 'This is a photo of the large x',
        'This is a photo of the small x']


# ------------------------------------------------------------------------------------------------ word: --debug
def test_debug_expansion_is_the_reference_quick_start():
    """The reference's --debug path: the N prompts, then per prompt in order its last space-separated word in the
    four templates (no article, no period, no deduplication): 5N strings."""
    prompts = ['This is a photo of a kite', 'This is a photo of a tiger shark', 'This is a photo of a kite']
    out = debug_expand(prompts)
    assert len(out) == 5 * 3 and out[:3] == prompts
    assert out[3:] == [
        'This is a blurry photo of kite', 'This is a photo of many kite', 'This is a photo of the large kite',
        'This is a photo of the small kite',
        'This is a blurry photo of shark', 'This is a photo of many shark', 'This is a photo of the large shark',
        'This is a photo of the small shark',
        'This is a blurry photo of kite', 'This is a photo of many kite', 'This is a photo of the large kite',
        'This is a photo of the small kite']
    assert debug_expand([]) == []
    with pytest.raises(ConfigError):
        debug_expand(prompts, templates=['no placeholder'])
    # through word_outliers: the cleaned prompts (bare words prompted, ID names and repeats dropped), then expanded
    words = ['kite', 'This is a photo of a tiger shark', 'zero', 'kite', 'sea  lion']
    base = word_outliers(words, ['zero'])
    assert base == ['This is a photo of a kite', 'This is a photo of a tiger shark', 'This is a photo of a sea lion']
    expanded = word_outliers(words, ['zero'], debug_expansion=True)
    assert expanded == debug_expand(base) and len(expanded) == 15
    assert expanded[-4:] == ['This is a blurry photo of lion', 'This is a photo of many lion',
                             'This is a photo of the large lion', 'This is a photo of the small lion']


# ------------------------------------------------------------------------------------------------ description (T9)
def test_t9_reference_character_set_strip():
    desc = {'tench': ['a freshwater fish', 'olive green or brown in color', 'a soft hat'],
            'goldfish': ['native to Asia', 'a freshwater fish']}
    out = description_outliers(desc)
    assert len(out) == 5 * 5  # 5 descriptors, duplicates kept
    assert out[:5] == ['This is a photo of a freshwater fish', 'This is a photo of olive green or brown in color',
                       'This is a photo of a soft hat', 'This is a photo of native to Asia',
                       'This is a photo of a freshwater fish']
    # per descriptor, its 4 templated copies; the leading 'This' survives and trailing set characters go
    assert out[5:9] == ['This is a blurry photo of This is a photo of a freshwater fis',
                        'This is a photo of many This is a photo of a freshwater fis',
                        'This is a photo of the large This is a photo of a freshwater fis',
                        'This is a photo of the small This is a photo of a freshwater fis']
    assert out[9] == 'This is a blurry photo of This is a photo of olive green or brown in color'
    assert out[13] == 'This is a blurry photo of This is a photo of a s'  # 'hat', ' ', 'soft' eaten back to 's'
    assert out[17] == 'This is a blurry photo of This is a photo of native to Asi'
    assert out[21:25] == out[5:9]  # the repeated descriptor is not deduplicated
    assert out.count('This is a photo of a freshwater fish') == 2
    assert len(set(out)) == 20


def test_description_fix_strip_exact_and_deduplicated():
    desc = {'hat': ['a soft hat', 'native to Asia'], 'other': ['a soft hat']}
    assert description_outliers(desc, fix_strip=True) == [
        'This is a photo of a soft hat', 'This is a photo of native to Asia',
        'This is a blurry photo of a soft hat', 'This is a photo of many a soft hat',
        'This is a photo of the large a soft hat', 'This is a photo of the small a soft hat',
        'This is a blurry photo of native to Asia', 'This is a photo of many native to Asia',
        'This is a photo of the large native to Asia', 'This is a photo of the small native to Asia']
    # deduplication also spans originals and templated copies
    out = description_outliers({'c': ['cats', 'many cats']}, fix_strip=True)
    assert out == ['This is a photo of cats', 'This is a photo of many cats', 'This is a blurry photo of cats',
                   'This is a photo of the large cats', 'This is a photo of the small cats',
                   'This is a blurry photo of many cats', 'This is a photo of many many cats',
                   'This is a photo of the large many cats', 'This is a photo of the small many cats']
    assert len(description_outliers({'c': ['cats', 'many cats']})) == 10  # reference keeps all


def test_description_class_names_dropped_and_custom_templates():
    desc = {'zebrafish': ['striped body'], 'koi': ['a koi pond nearby']}
    for fix in (False, True):
        out = description_outliers(desc, fix_strip=fix)
        assert not any('zebrafish' in s for s in out)
        assert sum('koi' in s for s in out) == 5
    assert description_outliers({'k': ['round']}, templates=('a {}!', )) == [
        'This is a photo of round', 'a This is a photo of round!']
    assert description_outliers({}) == []


def test_description_invalid_inputs():
    with pytest.raises(ConfigError, match='exactly one'):
        description_outliers({'k': ['x']}, templates=('no slot', ))
    with pytest.raises(UserError, match="'k'"):
        description_outliers({'k': 'a string, not a list'})
    with pytest.raises(UserError, match='Descriptor 1'):
        description_outliers({'k': ['x', 3]})


# ---------------------------------------------------------------------------------------------------------- words
def test_word_outliers_cleaning():
    words = ['tiger shark', '  Goldfish ', '', '   ', 'tiger shark', 'This is a photo of a tiger shark',
             'This is a photo of a lamp', 'GREAT  white\tshark', 'lamp', 'This is a photo of a goldfish', ' owl\n']
    out = word_outliers(words, class_names=['goldfish', 'Great White Shark'])
    assert out == ['This is a photo of a tiger shark', 'This is a photo of a lamp', 'This is a photo of a owl']
    # without class names nothing is excluded, but duplicates still are
    assert word_outliers(words) == [
        'This is a photo of a tiger shark', 'This is a photo of a Goldfish', 'This is a photo of a lamp',
        'This is a photo of a GREAT white shark', 'This is a photo of a goldfish', 'This is a photo of a owl']
    # an entry that only starts like the prefix is a bare word
    assert word_outliers(['This is a photo of an owl']) == ['This is a photo of a This is a photo of an owl']


def test_word_outliers_custom_template():
    out = word_outliers(['a photo of the cat.', 'cat', 'dog', 'Dog'], class_names=['DOG'],
                        template='a photo of the {}.')
    assert out == ['a photo of the cat.']
    with pytest.raises(ConfigError):
        word_outliers(['x'], template='no slot')
    with pytest.raises(ConfigError):
        word_outliers(['x'], template='{} and {}')


# ------------------------------------------------------------------------------------------------ wordnet window
def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _window_numpy(cand, ids, quantile, window):
    q = np.quantile(cand @ ids.T, quantile, axis=1)  # linear interpolation per row
    lo, hi = np.percentile(q, window)
    return np.flatnonzero((q >= lo) & (q <= hi)), q


def test_wordnet_window_matches_numpy():
    rng = np.random.default_rng(3)
    cand, ids = _unit(rng.normal(size=(201, 16))), _unit(rng.normal(size=(30, 16)))
    for quantile, window in [(0.95, (85.0, 95.0)), (0.5, (10.0, 60.0)), (1.0, (33.3, 71.7))]:
        got = wordnet_window(torch.from_numpy(cand), torch.from_numpy(ids), quantile, window)
        expected, _ = _window_numpy(cand, ids, quantile, window)
        assert got.dtype == torch.int64
        assert got.tolist() == expected.tolist()
    # float32 inputs give the same selection
    got = wordnet_window(torch.from_numpy(cand).float(), torch.from_numpy(ids).float())
    assert got.tolist() == _window_numpy(cand, ids, 0.95, (85.0, 95.0))[0].tolist()


def test_wordnet_window_boundaries():
    rng = np.random.default_rng(4)
    cand, ids = _unit(rng.normal(size=(201, 8))), _unit(rng.normal(size=(12, 8)))
    _, q = _window_numpy(cand, ids, 0.95, (85.0, 95.0))
    rank = np.argsort(q, kind='stable')
    got = set(wordnet_window(torch.from_numpy(cand), torch.from_numpy(ids)).tolist())
    # 201 candidates: the 85th / 95th percentiles fall exactly on the sorted positions 170 and 190, both kept
    assert got == set(rank[170:191].tolist())
    assert rank[170] in got and rank[190] in got and rank[169] not in got and rank[191] not in got
    full = wordnet_window(torch.from_numpy(cand), torch.from_numpy(ids), window=(0, 100))
    assert full.tolist() == list(range(201))
    assert wordnet_window(torch.zeros(0, 8), torch.from_numpy(ids)).tolist() == []
    for bad in [(95, 85), (50, 50), (-1, 50), (50, 100.5)]:
        with pytest.raises(ConfigError, match='window'):
            wordnet_window(torch.from_numpy(cand), torch.from_numpy(ids), window=bad)
    with pytest.raises(ConfigError, match='quantile'):
        wordnet_window(torch.from_numpy(cand), torch.from_numpy(ids), quantile=1.5)


# ------------------------------------------------------------------------------------------------ caption filter
def _caption_data():
    """3 tight clusters on e0, e1, e2 (D = 5); captions 0-5 near a cluster, 6-9 between two clusters."""
    rng = np.random.default_rng(7)
    eye = np.eye(5)
    labels = np.repeat(np.arange(3), 12)
    feats = (eye[labels] + 0.05 * rng.normal(size=(36, 5))) * rng.uniform(0.5, 3.0, size=(36, 1))
    near = eye[[0, 1, 2, 0, 1, 2]] + 0.05 * rng.normal(size=(6, 5))
    between = np.stack([eye[0] + eye[1], eye[1] + eye[2], eye[0] + eye[2], eye[0] + eye[1]])
    between = between + 0.05 * rng.normal(size=(4, 5))
    captions = np.concatenate([near, between]) * rng.uniform(0.5, 2.0, size=(10, 1))
    return captions, feats, labels


def _caption_scores_numpy(captions, feats, labels):
    t = _unit(captions)
    x = _unit(feats)
    classes = np.unique(labels)
    means = np.stack([x[labels == c].mean(axis=0) for c in classes])
    centred = x - means[np.searchsorted(classes, labels)]
    precision = np.linalg.inv(centred.T @ centred / len(x))
    scores = np.full(len(t), -np.inf)
    for mu in means:
        diff = t - mu
        scores = np.maximum(scores, -0.5 * np.einsum('nd,de,ne->n', diff, precision, diff))
    return scores


def test_caption_filter_matches_numpy():
    captions, feats, labels = _caption_data()
    scores = _caption_scores_numpy(captions, feats, labels)
    got = caption_filter(torch.from_numpy(captions), torch.from_numpy(feats), torch.from_numpy(labels), keep=0.4)
    assert got.dtype == torch.int64
    assert got.tolist() == [6, 7, 8, 9]  # the captions between clusters are the farthest from every class
    assert got.tolist() == sorted(np.argsort(scores, kind='stable')[:4].tolist())
    # float32 inputs and an explicit num_classes with an empty fourth class: same selection
    got32 = caption_filter(torch.from_numpy(captions).float(), torch.from_numpy(feats).float(),
                           torch.from_numpy(labels), num_classes=4, keep=0.4)
    assert got32.tolist() == [6, 7, 8, 9]
    for keep in (0.2, 0.7):
        count = int(round(keep * 10))
        got = caption_filter(torch.from_numpy(captions), torch.from_numpy(feats), torch.from_numpy(labels), keep=keep)
        assert got.tolist() == sorted(np.argsort(scores, kind='stable')[:count].tolist())


def test_caption_filter_keep_rounding_and_validation():
    captions, feats, labels = _caption_data()
    args = (torch.from_numpy(captions), torch.from_numpy(feats), torch.from_numpy(labels))
    # N = 10: 0.15 -> round(1.5) = 2, 0.25 -> round(2.5) = 2 (half to even), 0.01 -> at least 1, 1.0 -> all
    assert [len(caption_filter(*args, keep=k)) for k in (0.15, 0.25, 0.36, 0.01, 1.0)] == [2, 2, 4, 1, 10]
    assert caption_filter(*args, keep=1.0).tolist() == list(range(10))
    assert caption_filter(torch.zeros(0, 5, dtype=torch.float64), *args[1:]).tolist() == []
    for bad in (0.0, -0.1, 1.5, float('nan')):
        with pytest.raises(ConfigError, match='keep'):
            caption_filter(*args, keep=bad)
    with pytest.raises(ValueError):
        caption_filter(torch.zeros(3, 4), *args[1:])


def test_caption_filter_scale_invariant():
    """Rescaling captions or image features leaves the selection unchanged (both are normalised)."""
    captions, feats, labels = _caption_data()
    base = caption_filter(torch.from_numpy(captions), torch.from_numpy(feats), torch.from_numpy(labels), keep=0.5)
    scaled = caption_filter(torch.from_numpy(captions * 7.0), torch.from_numpy(feats * 0.1),
                            torch.from_numpy(labels), keep=0.5)
    assert base.tolist() == scaled.tolist() and len(base) == 5


# ------------------------------------------------------------------------------------------------------- files
def test_write_read_round_trip(tmp_path):
    path = tmp_path / 'sub' / 'dir' / 'outliers.txt'
    texts = ['This is a photo of a lamp', 'two\nlines', 'carriage\r\nreturn', ' kept spaces ', 'a # inside',
             'This is a photo of a lamp']
    header = {'level': 'description', 'source': 'descriptors.json', 'sha256': 'ab' * 32, 'fix_strip': False,
              'note': 'multi\nline'}
    write_outlier_list(str(path), texts, header)
    assert read_outlier_list(str(path)) == ['This is a photo of a lamp', 'two lines', 'carriage return',
                                            ' kept spaces ', 'a # inside', 'This is a photo of a lamp']
    assert read_outlier_header(str(path)) == {'level': 'description', 'source': 'descriptors.json',
                                              'sha256': 'ab' * 32, 'fix_strip': 'False', 'note': 'multi line'}
    assert list(read_outlier_header(str(path))) == list(header)  # dict order
    lines = path.read_text(encoding='utf-8').splitlines()
    assert lines[0] == '# level: description' and lines[5] == 'This is a photo of a lamp' and len(lines) == 11
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith('.tmp')]
    for bad in (['ok', ''], ['ok', '   '], ['#hashtag']):
        with pytest.raises(UserError, match='Outlier text'):
            write_outlier_list(str(tmp_path / 'bad.txt'), bad, {})
    assert not (tmp_path / 'bad.txt').exists()
    with pytest.raises(UserError, match='header key'):
        write_outlier_list(str(tmp_path / 'bad.txt'), ['x'], {'a:b': 1})
    with pytest.raises(UserError, match='.txt'):
        write_outlier_list(str(tmp_path / 'bad.npy'), ['x'], {})


def test_read_hand_written_txt(tmp_path):
    path = tmp_path / 'words.txt'
    path.write_bytes(b'# level: word\r\n#no colon here\r\n# id: ImageNet : 1k\r\nalpha\r\n\r\n  \nbeta\n'
                     b'# body comment: skipped\ngamma')
    assert read_outlier_list(str(path)) == ['alpha', 'beta', 'gamma']
    assert read_outlier_header(str(path)) == {'level': 'word', 'id': 'ImageNet : 1k'}
    plain = tmp_path / 'plain.txt'
    plain.write_text('x\ny\n', encoding='utf-8')
    assert read_outlier_header(str(plain)) == {}


def test_read_npy_unicode_and_object(tmp_path):
    uni = tmp_path / 'uni.npy'
    np.save(uni, np.array(['This is a photo of a cat', 'b c']))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert read_outlier_list(str(uni)) == ['This is a photo of a cat', 'b c']
        assert read_outlier_list(str(uni), allow_pickle=True) == ['This is a photo of a cat', 'b c']
    obj = tmp_path / 'obj.npy'
    np.save(obj, np.array(['x', 'y', 'z', 'x'], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match='allow_pickle=True') as info:
        read_outlier_list(str(obj))
    assert 'pickle can run arbitrary code' in str(info.value) and 'trust' in str(info.value)
    assert str(obj) in str(info.value)
    with pytest.warns(UserWarning, match='pickle') as record:
        assert read_outlier_list(str(obj), allow_pickle=True) == ['x', 'y', 'z', 'x']
    assert file_sha256(str(obj)) in str(record[0].message)
    mixed = tmp_path / 'mixed.npy'
    np.save(mixed, np.array(['x', 3, 'z'], dtype=object), allow_pickle=True)
    with pytest.warns(UserWarning), pytest.raises(UserError, match='element 1 is of type int'):
        read_outlier_list(str(mixed), allow_pickle=True)
    numeric = tmp_path / 'numeric.npy'
    np.save(numeric, np.arange(3))
    with pytest.raises(UserError, match='dtype'):
        read_outlier_list(str(numeric))
    matrix = tmp_path / 'matrix.npy'
    np.save(matrix, np.array([['a', 'b']]))
    with pytest.raises(UserError, match='1-D'):
        read_outlier_list(str(matrix))


def test_read_errors(tmp_path):
    missing = tmp_path / 'nowhere' / 'words.txt'
    with pytest.raises(DataError) as info:
        read_outlier_list(str(missing))
    assert isinstance(info.value, UserError) and str(missing) in str(info.value)
    with pytest.raises(UserError, match=str(tmp_path / 'x.npy')):
        read_outlier_list(str(tmp_path / 'x.npy'))
    csv = tmp_path / 'words.csv'
    csv.write_text('a\n', encoding='utf-8')
    with pytest.raises(UserError, match='Unsupported'):
        read_outlier_list(str(csv))
    with pytest.raises(UserError, match='.txt'):
        read_outlier_header(str(tmp_path / 'x.npy'))


# ------------------------------------------------------------------------------------------------ per-class pick
def test_select_per_class():
    labels = [2, 0, 2, 1, 0, 2, 2, 0, 1]
    out = select_per_class(labels, per_class=2)
    assert out.dtype == np.int64 and out.tolist() == [0, 1, 2, 3, 4, 8]
    assert select_per_class(labels, per_class=1).tolist() == [0, 1, 3]
    assert select_per_class(labels, per_class=3).tolist() == [0, 1, 2, 3, 4, 5, 7, 8]
    assert select_per_class(labels).tolist() == list(range(9))
    assert select_per_class(torch.tensor(labels), per_class=2).tolist() == [0, 1, 2, 3, 4, 8]
    assert select_per_class(np.array([5, 5, 5, 9]), per_class=2).tolist() == [0, 1, 3]
    assert select_per_class([]).tolist() == []
    with pytest.raises(ConfigError):
        select_per_class(labels, per_class=0)
    with pytest.raises(ValueError):
        select_per_class([[0, 1]])


def test_read_keep_blank_keeps_one_row_per_line(tmp_path):
    """Captions files are read with keep_blank: row i is the caption of image i (an index file counts rows)."""
    path = tmp_path / 'captions.txt'
    path.write_text('# made_by: someone\n# level: caption\na dog\n\n  \n#hashtag caption\na cat\n')
    assert read_outlier_list(str(path)) == ['a dog', 'a cat']
    assert read_outlier_list(str(path), keep_blank=True) == ['a dog', '', '', '#hashtag caption', 'a cat']
