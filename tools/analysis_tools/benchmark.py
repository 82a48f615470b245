"""Throughput ratios of mmood, measured in one run: ``python tools/analysis_tools/benchmark.py``.

(a) ``loop``    images/s of mmood's zero-shot test loop (Runner + OODEvalDataset + MCM + OODMetric) divided by a
                bare loop that decodes the same images with the same number of workers and runs the same open_clip
                model (goal >= 0.95 on GPU). ``--model tiny`` (default on CPU) or ``ViT-B-16`` (random weights).
(b) ``rescore`` for MSP, MaxLogit, Energy, MCM, NegLabel (10k negatives), KNN and Mahalanobis on synthetic
                features (90k x 512 test features, 1000 classes, a 100k ID bank, times ``--scale``): the
                head's time (``build_method(name)``, all rows in one call) divided by the time of the bare torch
                matrix product(s) the method cannot avoid (goal <= 1.3). Mahalanobis computes in float64, so its
                products are timed in float64.
(c) ``mining``  NegLabel mining from cached word embeddings (70k words x 1000 classes): cache read + selection
                (goal < 2 s).
(d) ``saving``  the image-encoder time that caching saves per extra method, extrapolated from a measured
                per-image rate (ViT-B/16 forward on this device), against the re-scoring time of (b) extrapolated
                to full scale (linear in N; KNN in N x bank).
(e) ``synthesis`` NPOS: ms per outlier-synthesis step (``NPOSOutlierSynthesis.sample()`` on full queues, N = 1000,
                d = 512, K 400, select 300, L 1500, m 2) at 100 classes (P 3, the ImageNet-100 recipe) and 1000
                classes (P 1, ImageNet-1k; on CPU extrapolated as 10 x 100 classes at P 1), against one training
                step of two ViT-B/16 blocks + ln_post + proj (forward, backward, SGD; random weights) on cached
                tokens at the recipe batch (800 / 1000; on CPU measured at ``--npos-batch`` and scaled linearly).

Not a test: nothing is asserted. Synthetic data only (random unit features, generated JPEGs); no download.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import os
import os.path as osp
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def tiny_tower():
    """The tiny open_clip tower (name, config) as written once in configs/_base_/models/clip_tiny.py."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'models', 'clip_tiny.py'))
    return cfg.model.backbone.model_name, cfg.tiny_model_cfg.to_dict()


CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073]) * 255
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711]) * 255


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed_pair(fn_a, fn_b, device, repeats=5):
    """Best wall times of two functions over ``repeats`` alternating runs: on a shared machine the least disturbed
    run of each is the closest to its cost, and alternating exposes both to the same load."""
    fn_a()
    fn_b()
    sync(device)
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.perf_counter()
            fn()
            sync(device)
            times.append(time.perf_counter() - start)
    return min(times_a), min(times_b)


def timed(fn, device, repeats=3, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------- (a) test loop
def make_images(root, num, width=400, height=300, seed=0):
    """``num`` JPEGs (ImageNet-like size) split into an ID folder with 2 classes and one OOD folder."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num):
        sub = ('id/class_a', 'id/class_b', 'ood')[i % 3]
        os.makedirs(osp.join(root, sub), exist_ok=True)
        base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((width, height), Image.BILINEAR)
        path = osp.join(root, sub, f'img_{i:05d}.jpg')
        img.save(path, quality=90)
        paths.append(path)
    return paths


class BareImages(torch.utils.data.Dataset):
    """PIL decode, bilinear short-side resize, centre crop, uint8 CHW tensor: the same work as the mmood pipeline."""

    def __init__(self, paths, size):
        self.paths, self.size = paths, size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        img = Image.open(self.paths[i]).convert('RGB')
        w, h = img.size
        scale = self.size / min(w, h)
        img = img.resize((max(self.size, round(w * scale)), max(self.size, round(h * scale))), Image.BILINEAR)
        w, h = img.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        img = img.crop((left, top, left + self.size, top + self.size))
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def workers_cpu_seconds():
    """CPU seconds of this process's ended, joined children: the loading workers (none persists, so a loop's
    workers are counted once its pass has ended)."""
    import resource
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def bare_loop(clip, paths, size, batch_size, workers, device, cpu=None):
    """img/s of the bare loop; ``cpu`` (a list) gets the CPU seconds per image of this process (all its threads)
    and of its loading workers."""
    loader = torch.utils.data.DataLoader(BareImages(paths, size), batch_size=batch_size, num_workers=workers)
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    text = F.normalize(torch.randn(3, clip.text_projection.shape[1], device=device), dim=-1)
    start, cpu_start, workers_start = time.perf_counter(), time.process_time(), workers_cpu_seconds()
    scores = []
    with torch.no_grad():
        for x in loader:
            x = (x.to(device).float() - mean) / std
            h = F.normalize(clip.encode_image(x).float(), dim=-1)
            scores.append(torch.softmax(h @ text.T, dim=1).amax(dim=1).cpu())
    sync(device)
    if cpu is not None:  # the workers were joined when the pass ended
        cpu.append((time.process_time() - cpu_start + workers_cpu_seconds() - workers_start) / len(paths))
    return len(paths) / (time.perf_counter() - start)


def decode_only(paths, workers):
    """img/s of PIL decoding alone (``Image.open(...).convert('RGB')``), the same files and workers: the limit."""
    class Decode(torch.utils.data.Dataset):
        def __len__(self):
            return len(paths)

        def __getitem__(self, i):
            Image.open(paths[i]).convert('RGB')
            return 0

    loader = torch.utils.data.DataLoader(Decode(), batch_size=64, num_workers=workers)
    start = time.perf_counter()
    for _ in loader:
        pass
    return len(paths) / (time.perf_counter() - start)


def mmood_loop(model_cfg, root, size, batch_size, workers, device, work_dir, path='exact'):
    """One ``runner.test()``: dict(rate=loop img/s (first batch to last batch), cpu=CPU s per image of the loop
    (this process and the loading workers), setup=s before the loop, stop=s from the last batch to the end of the
    epoch without the metric (the workers' stop), metric=s of ``evaluator.evaluate``, total_rate=img/s of the whole
    runner.test(), scores in dataset order, auroc).

    ``path``: ``'exact'`` (the configured pipeline), ``'draft'`` (draft JPEG decoding), ``'gpu'`` (GPU decoding:
    ``LoadEncodedImage`` + ``GPUDecodeDataPreprocessor``) or ``'gpu_emulated'`` (the same with PIL standing in for
    nvJPEG, on any device: the geometry's deviation, not its speed). Report files and plots are not written.
    """
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    from mmood.models.classifiers import CLIP_MEAN as MEAN, CLIP_STD as STD
    pack = dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))
    pipeline = [dict(type='LoadOODImage', imdecode_backend='pillow', draft=path == 'draft'),
                dict(type='ResizeEdge', scale=size, edge='short', backend='pillow', interpolation='bilinear'),
                dict(type='CenterCrop', crop_size=size), pack]
    model = dict(type='CLIPOODClassifier', backbone=model_cfg, class_names=['class_a', 'class_b'],
                 head=dict(type='MCMHead', tau=1.0), cache_dir=osp.join(work_dir, 'cache'))
    if path.startswith('gpu'):
        pipeline = [dict(type='LoadEncodedImage'), pack]
        model['data_preprocessor'] = dict(type='GPUDecodeDataPreprocessor', scale=size, edge='short',
                                          interpolation='bilinear', crop_size=size, mean=MEAN, std=STD, to_rgb=True,
                                          decoder='pil' if path == 'gpu_emulated' else None)
    cfg = Config(dict(
        default_scope='mmpretrain', work_dir=work_dir, log_level='WARNING', randomness=dict(seed=0),
        experiment_name=f'benchmark_{time.time_ns()}', model=model,
        test_dataloader=dict(batch_size=batch_size, num_workers=workers,
                             sampler=dict(type='DefaultSampler', shuffle=False),
                             dataset=dict(type='OODEvalDataset', id_set=dict(name='ID', data_root=osp.join(root, 'id')),
                                          ood_sets=[dict(name='OOD', data_root=osp.join(root, 'ood'))],
                                          class_names=['class_a', 'class_b'], pipeline=pipeline)),
        test_evaluator=dict(type='OODMetric'), test_cfg=dict(type='OODTestLoop'),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=10**6)),
        custom_hooks=[dict(type='OODPrepareHook'), dict(type='SetLevelScoresHook'),
                      dict(type='OODResultsHook', report=False)],
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                     mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0)),
        device=device.type))

    class LoopTimer(Hook):
        priority = 'VERY_HIGH'

        def before_test_epoch(self, runner):
            self.start, self.metric = time.perf_counter(), 0.0
            self.cpu_start, self.workers_start = time.process_time(), workers_cpu_seconds()
            evaluator, evaluate = runner.test_loop.evaluator, runner.test_loop.evaluator.evaluate

            def timed_evaluate(*args, **kwargs):  # the metric alone (the loop's end stops the workers first)
                begin = time.perf_counter()
                try:
                    return evaluate(*args, **kwargs)
                finally:
                    self.metric += time.perf_counter() - begin
            evaluator.evaluate = timed_evaluate

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            sync(device)
            self.last, self.cpu_last = time.perf_counter(), time.process_time()

        def after_test_epoch(self, runner, metrics=None):
            self.end, self.workers_end = time.perf_counter(), workers_cpu_seconds()  # joined at the loop's end
            self.auroc = metrics['OOD/AUROC']
            self.table = runner.test_evaluator.metrics[0].results_table  # before OODResultsHook takes it

    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    timer = LoopTimer()
    runner.register_hook(timer)
    runner.test()
    total = time.perf_counter() - start
    num = len(runner.test_dataloader.dataset)
    table = timer.table
    scores = np.empty(num)
    scores[table.idx] = table.scores[table.primary_score]
    cpu = timer.cpu_last - timer.cpu_start + timer.workers_end - timer.workers_start
    out = dict(rate=num / (timer.last - timer.start), cpu=cpu / num, setup=timer.start - start, metric=timer.metric,
               stop=timer.end - timer.last - timer.metric, total_rate=num / total, scores=scores, auroc=timer.auroc)
    del runner, timer  # the Runner's garbage is collected now, outside every timed span
    import gc
    gc.collect()
    return out


def part_loop(args, device, tmp):
    import open_clip
    from mmood.models.backbones.open_clip_backbone import register_model_config
    from mmood.models.classifiers import jpeg_decoder
    if args.model == 'tiny':
        name, tiny_cfg = tiny_tower()
        register_model_config(name, tiny_cfg)
        model_cfg = dict(type='OpenCLIPBackbone', model_name=name, pretrained=None, model_cfg=tiny_cfg)
    else:
        model_cfg = dict(type='OpenCLIPBackbone', model_name=args.model, pretrained=None, precision=args.precision)
        name = args.model
    try:
        jpeg_decoder(device)
        gpu_path, gpu_note = 'gpu', 'nvJPEG via torchvision.io'
    except RuntimeError as err:
        gpu_path, gpu_note = 'gpu_emulated', f'emulated: PIL decode + the GPU path\'s torch resize on {device}; ' \
            f'not its speed ({str(err).split(";")[0]})'
    torch.manual_seed(0)
    clip = open_clip.create_model(name, pretrained=None, precision=args.precision, device=device).eval()
    size = clip.visual.image_size[0] if isinstance(clip.visual.image_size, (tuple, list)) else clip.visual.image_size
    root = osp.join(tmp, 'images')
    paths = make_images(root, args.images)
    paths_sorted = sorted(paths)
    bare_loop(clip, paths_sorted[:args.batch_size * 2], size, args.batch_size, args.workers, device)  # warm-up
    rounds = []
    for r in range(args.loop_repeats):  # rounds in turn forwards and backwards: the order favours no path
        row, cpu = {}, []
        steps = [('decode', lambda: decode_only(paths_sorted, args.workers)),
                 ('bare', lambda: bare_loop(clip, paths_sorted, size, args.batch_size, args.workers, device, cpu))]
        steps += [(path, lambda path=path: mmood_loop(model_cfg, root, size, args.batch_size, args.workers, device,
                                                      osp.join(tmp, f'{path}{r}'), path=path))
                  for path in ('exact', 'draft', gpu_path)]
        for key, step in steps[::-1] if r % 2 else steps:
            row[key] = step()
        row['bare_cpu'] = cpu[0]
        rounds.append(row)

    def best(key):
        return max(row[key] if key in ('decode', 'bare') else row[key]['rate'] for row in rounds)

    def ratios(key):  # each round's (this path / the bare loop of the same round)
        return [row[key]['rate'] / row['bare'] for row in rounds]

    def paired(key):  # their median over rounds
        return float(np.median(ratios(key)))

    exact, bare_rate = rounds[-1]['exact'], best('bare')
    setup = min(row['exact']['setup'] for row in rounds)
    stop = min(row['exact']['stop'] for row in rounds)
    metric = min(row['exact']['metric'] for row in rounds)
    fixed = setup + stop + metric * 10_000 / args.images
    share_10k = fixed / (fixed + 10_000 / best('exact'))
    print(f'(a) test loop, {name} ({args.precision}, input {size}px), {args.images} JPEGs 400x300, batch '
          f'{args.batch_size}, {args.workers} workers, {device}, {args.loop_repeats} alternating rounds '
          f'(best img/s; ratio = median over rounds of the paired ratio to that round\'s bare loop; odd rounds run '
          f'backwards):')
    print(f'    decode only (PIL decode of the same files, the limit):               {best("decode"):8.1f} img/s '
          f'({best("decode") / bare_rate:.3f} x bare)')
    print(f'    bare loop (PIL decode + resize/crop + open_clip encode_image + MCM): {bare_rate:8.1f} img/s')
    print(f'    mmood test loop (Runner, OODEvalDataset, MCMHead, OODMetric):       {best("exact"):8.1f} img/s '
          f'({paired("exact"):.3f} x bare; goal >= 0.95; best/best {best("exact") / bare_rate:.3f})')
    each = [f'{row["exact"]["rate"]:.0f}/{row["bare"]:.0f} = {ratio:.3f}'
            for row, ratio in zip(rounds, ratios('exact'))]
    print('      each round, mmood/bare img/s: ' + ', '.join(each))
    # CPU time (this process's threads + the loading workers): a second measure, less moved by other load
    bare_cpu = min(row['bare_cpu'] for row in rounds)
    mmood_cpu = min(row['exact']['cpu'] for row in rounds)
    cpu_paired = float(np.median([row['bare_cpu'] / row['exact']['cpu'] for row in rounds]))
    print(f'      CPU time per image, this process{" + its workers" if args.workers else ""} (least over rounds): '
          f'bare {1e3 * bare_cpu:.3f} ms, mmood {1e3 * mmood_cpu:.3f} ms ({bare_cpu / mmood_cpu:.3f} x bare as a '
          f'rate; paired median {cpu_paired:.3f})')
    print(f'      Runner set-up {setup:.2f} s, workers\' stop {stop:.2f} s, metric {metric:.2f} s for {args.images} '
          f'images: {100 * share_10k:.1f} % of a 10k-image run (the metric scaled linearly; goal <= 5 %)')
    for path, label in (('draft', 'draft JPEG decoding (LoadOODImage(draft=True))'),
                        (gpu_path, f'GPU decoding ({gpu_note})')):
        fast = rounds[-1][path]
        rate = f'{best(path):8.1f} img/s ({paired(path):.3f} x bare)' if path != 'gpu_emulated' else 'speed n/a'
        print(f'    mmood with {label}: {rate}; max |score - exact| '
              f'{np.abs(fast["scores"] - exact["scores"]).max():.2e}, AUROC {fast["auroc"]:.2f} vs '
              f'{exact["auroc"]:.2f} exact')
    return dict(bare=bare_rate, mmood=best('exact'))


# ---------------------------------------------------------------------------------------------- (b) re-scoring
def part_rescore(args, device):
    from mmood.models.heads import HeadContext, build_method
    gen = torch.Generator(device='cpu').manual_seed(0)
    n, m = int(round(90_000 * args.scale)), int(round(100_000 * args.scale))
    d, k, n_neg = 512, 1000, 10_000

    def unit(rows):
        return F.normalize(torch.randn(rows, d, generator=gen), dim=-1).to(device)

    x, text, bank, neg = unit(n), unit(k), unit(m), unit(n_neg)
    labels = torch.randint(0, k, (m, ), generator=gen).to(device)
    ctx = HeadContext(id_text=text, logit_scale=100.0)
    feats = {'global': x}
    rows = []

    def bare_logits():
        return x @ text.T

    def add(name, head, bare, bare_note, extra=''):
        t_method, t_bare = timed_pair(lambda: head(feats), bare, device, args.repeats)
        rows.append((name, t_method, t_bare, bare_note, extra))

    with torch.no_grad():
        for name in ('msp', 'maxlogit', 'energy', 'mcm'):
            add(name, build_method(name).prepare(ctx), bare_logits, 'X @ T^T')
        negl = build_method('neglabel')
        negl.id_text, negl.neg_text, negl.prepared = text, neg, True  # 10k negatives, stored grouped as after mining
        negl.set_text_logit_weights()
        add('neglabel', negl, lambda: (x @ text.T, x @ neg.T), 'X @ T^T, X @ N^T')
        knn = build_method('knn').prepare(ctx).fit({'global': bank})
        qc, bc = knn.chunk_size, knn.bank_chunk_size

        def bare_knn():
            for qs in range(0, n, qc):
                for bs in range(0, m, bc):
                    x[qs:qs + qc] @ bank[bs:bs + bc].T

        add('knn', knn, bare_knn, f'X @ B^T (same {qc} x {bc} chunks)')
        maha = build_method('mahalanobis').prepare(ctx)
        t_fit = timed(lambda: maha.fit({'global': bank}, labels), device, 1, 0)
        prec = maha.gaussians['precision']
        mu = maha.gaussians['means'].to(torch.float64)
        x64 = x.double()

        def bare_maha():
            x64 @ prec
            x64 @ mu.T

        add('mahalanobis', maha, bare_maha, 'X @ P, X @ M^T (float64)', f'fit {t_fit:.2f} s')
        prec32, mu32 = prec.float(), mu.float()
        t32 = timed(lambda: (x @ prec32, x @ mu32.T), device, args.repeats)
    print(f'(b) re-scoring {n:,} x {d} features (K = {k} classes, bank {m:,}, {n_neg:,} negatives; scale '
          f'{args.scale}), {device}, one call per method on all rows, best of {args.repeats} runs alternating with '
          f'the bare product(s):')
    print(f'    {"method":<12} {"head":>9} {"bare":>9} {"ratio":>6}  bare product(s)')
    for name, tm, tb, note, extra in rows:
        print(f'    {name:<12} {tm:8.3f}s {tb:8.3f}s {tm / tb:6.2f}  {note}{"; " + extra if extra else ""}')
    print(f'    worst ratio {max(tm / tb for _, tm, tb, _, _ in rows):.2f} (goal <= 1.3); Mahalanobis products in '
          f'float32 instead: {t32:.3f} s')
    return {name: (tm, tb) for name, tm, tb, _, _ in rows}


# ---------------------------------------------------------------------------------------------- (c) mining
def part_mining(args, tmp):
    from mmood.cache import CacheStore
    from mmood.text.mining import mine_indices
    gen = torch.Generator().manual_seed(1)
    store = CacheStore(osp.join(tmp, 'mining_cache'))
    nouns = F.normalize(torch.randn(60_000, 512, generator=gen), dim=-1).numpy()
    adjs = F.normalize(torch.randn(10_000, 512, generator=gen), dim=-1).numpy()
    ids = F.normalize(torch.randn(1000, 512, generator=gen), dim=-1)
    store.save('text_embeddings', 'nouns', dict(emb=nouns))
    store.save('text_embeddings', 'adjs', dict(emb=adjs))

    def run():
        noun_emb = torch.from_numpy(store.load('text_embeddings', 'nouns')[0]['emb'])
        adj_emb = torch.from_numpy(store.load('text_embeddings', 'adjs')[0]['emb'])
        return mine_indices(noun_emb, adj_emb, ids, 0.95, 0.15)

    t_total = timed(run, torch.device('cpu'), args.repeats)
    t_read = timed(lambda: (store.load('text_embeddings', 'nouns'), store.load('text_embeddings', 'adjs')),
                   torch.device('cpu'), args.repeats)
    noun_idx, adj_idx = run()
    print(f'(c) NegLabel mining from cached word embeddings (60,000 nouns + 10,000 adjectives x 1,000 classes, '
          f'CPU): {t_total:.2f} s (cache read {t_read:.2f} s) -> {len(noun_idx) + len(adj_idx):,} negatives '
          f'(goal < 2 s)')
    return t_total


# ---------------------------------------------------------------------------------------------- (d) savings
def part_saving(args, device, loop_rates, rescore_times):
    import open_clip
    torch.manual_seed(0)
    clip = open_clip.create_model('ViT-B-16', pretrained=None, precision=args.precision, device=device).eval()
    batch = torch.randn(args.vit_batch, 3, 224, 224, device=device)
    if args.precision != 'fp32':
        batch = batch.to(next(clip.parameters()).dtype)
    with torch.no_grad():
        t = timed(lambda: clip.encode_image(batch), device, max(1, args.repeats - 1))
    rate = args.vit_batch / t
    test_images, train_images = 90_000, 1_281_167
    print(f'(d) what caching saves (ViT-B/16 image encoder measured at {rate:.1f} img/s on {device}, batch '
          f'{args.vit_batch}, forward only; extrapolated, decoding not included):')
    print(f'    re-extracting the ImageNet-1k val + 4 OOD sets ({test_images:,} images): '
          f'{test_images / rate / 3600:.2f} h per method run; plus ImageNet-1k train for KNN / Mahalanobis banks '
          f'({train_images:,}): {train_images / rate / 3600:.2f} h')
    if loop_rates:
        print(f'    measured end-to-end test-loop rate of (a) ({args.model}): {loop_rates["mmood"]:.1f} img/s')
    if rescore_times:
        scale = args.scale
        full = 0.0
        for name, (tm, _) in rescore_times.items():
            full += tm / (scale * scale) if name == 'knn' else tm / scale
        print(f'    re-scoring all {len(rescore_times)} methods of (b) from cached features at full scale: ~{full:.1f} '
              f's (extrapolated from scale {scale}: linear in N, KNN in N x bank)')
        print(f'    => caching saves ~{test_images / rate:.0f} s of image encoding per extra method on the test '
              f'sets alone, against ~{full / len(rescore_times):.1f} s per method to re-score')


# ---------------------------------------------------------------------------------------------- (e) NPOS synthesis
#: the NPOS recipes (configs/npos/npos_vitb16_in100.py, configs/npos/npos_vitb16_in1k.py): classes, picks P, batch,
# synthesis
#: iterations (epochs after start_epoch x iterations per epoch: IN-100 10 x 159, IN-1k 60 x 1282)
NPOS_RECIPES = (('ImageNet-100', 100, 3, 800, 1590), ('ImageNet-1k', 1000, 1, 1000, 76_920))


def npos_synthesis_ms(num_classes, picks, device, repeats, seed=0):
    """Median ms of ``NPOSOutlierSynthesis.sample()`` with every queue full (random features), and its GFLOP."""
    from mmood.models.losses import NPOSOutlierSynthesis
    n, d, k, select, draws = 1000, 512, 400, 300, 1500
    synth = NPOSOutlierSynthesis(num_classes, d, queue_size=n, k=k, select=select, picks=picks, num_draws=draws,
                                 sigma=0.1, keep=2, seed=seed).to(device)
    gen = torch.Generator().manual_seed(seed)
    synth.queue.copy_(torch.randn(num_classes, n, d, generator=gen))
    synth.count.fill_(n)  # every queue full: each call synthesises C * P * m outliers
    gflop = 2 * num_classes * d * n * (n + picks * draws) / 1e9  # the two batched similarity products
    # seconds per call on a CPU: a warm-up run would change nothing but the duration of the benchmark
    return 1000 * timed(synth.sample, device, repeats, warmup=int(device.type == 'cuda')), gflop


def npos_train_step_ms(batch, num_classes, device, repeats, precision):
    """Median ms of one NPOS training step of ViT-B/16's last two blocks + ln_post + proj on cached tokens
    (fp16 (batch, 197, 768), as cached): forward, LogitNorm loss against random prototypes, backward, SGD."""
    import open_clip
    from mmood.models.losses import LogitNormLoss
    torch.manual_seed(0)
    visual = open_clip.create_model('ViT-B-16', pretrained=None, device='cpu').visual
    blocks = torch.nn.Sequential(*visual.transformer.resblocks[-2:]).to(device).train()
    ln_post, proj = visual.ln_post.to(device).train(), torch.nn.Parameter(visual.proj.detach().to(device))
    batch_first = getattr(visual.transformer, 'batch_first', True)
    params = list(blocks.parameters()) + list(ln_post.parameters()) + [proj]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    tokens = torch.randn(batch, 197, 768, device=device).half()
    labels = torch.randint(0, num_classes, (batch, ), device=device)
    prototypes = F.normalize(torch.randn(num_classes, proj.shape[1], device=device), dim=-1)
    loss_fn = LogitNormLoss(temperature=8.0)
    amp = dict(fp16=torch.float16, bf16=torch.bfloat16).get(precision) if device.type == 'cuda' else None

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            x = tokens.float()
            x = blocks(x if batch_first else x.transpose(0, 1))
            x = x if batch_first else x.transpose(0, 1)
            embed = (ln_post(x[:, 0]) @ proj).float()
            loss = loss_fn(F.normalize(embed, dim=-1) @ prototypes.T, labels)
        loss.backward()
        optimizer.step()

    return 1000 * timed(step, device, repeats, warmup=1)


def part_synthesis(args, device):
    cuda = device.type == 'cuda'
    repeats = args.npos_repeats
    synth = {}
    for name, classes, picks, _, _ in NPOS_RECIPES:
        if classes <= 100 or cuda:
            ms, gflop = npos_synthesis_ms(classes, picks, device, repeats)
            synth[name] = (ms, gflop, '')
        else:  # per-class work is independent: 10 x the time of 100 classes with the same P
            ms, gflop = npos_synthesis_ms(100, picks, device, repeats)
            scale = classes / 100
            synth[name] = (ms * scale, gflop * scale,
                           f'extrapolated: {scale:.0f} x {ms:.1f} ms measured at 100 classes, P {picks}')
    train, measured_ms = {}, {}
    for name, classes, _, batch, _ in NPOS_RECIPES:
        measured = args.npos_batch or batch
        shared = measured in measured_ms  # one measurement per batch: the class count only sizes B x C cosines
        if not shared:
            measured_ms[measured] = npos_train_step_ms(measured, classes, device, repeats, args.precision)
        ms = measured_ms[measured]
        note = '' if measured == batch else (f'scaled linearly from {ms:.1f} ms measured at batch {measured}'
                                             + (', the measurement above' if shared else ''))
        train[name] = (ms * batch / measured, note)
    amp = args.precision if cuda and args.precision != 'fp32' else 'fp32'
    print(f'(e) NPOS outlier synthesis (NPOSOutlierSynthesis.sample(), full queues of N = 1000 x d = 512, K 400, '
          f'select 300, L 1500, m 2) vs one training step (ViT-B/16 blocks 10-11 + ln_post + proj, forward + '
          f'backward + SGD on cached fp16 tokens, {amp}, random weights), {device}, median of {repeats}:')
    for name, classes, picks, batch, iters in NPOS_RECIPES:
        ms, gflop, note = synth[name]
        step, step_note = train[name]
        print(f'    {name:<12} synthesis, {classes} classes, P {picks}: {ms:10.1f} ms/step ({gflop:,.0f} GFLOP of '
              f'products, {gflop / ms:,.2f} TFLOP/s){"  [" + note + "]" if note else ""}')
        print(f'    {"":<12} training step, batch {batch}: {step:10.1f} ms'
              f'{"  [" + step_note + "]" if step_note else ""}')
        print(f'    {"":<12} => synthesis = {ms / step:.3f} x the training step ({100 * ms / (ms + step):.1f} % of '
              f'an iteration that synthesises); {iters:,} synthesis iterations: {ms * iters / 3.6e6:.2f} h of '
              f'synthesis')
    return dict(synthesis=synth, train=train)


def parse_args(argv=None):
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description='mmood throughput ratios (not a test)')
    parser.add_argument('--parts', nargs='+', choices=['loop', 'rescore', 'mining', 'saving', 'synthesis'],
                        default=['loop', 'rescore', 'mining', 'saving', 'synthesis'])
    parser.add_argument('--device', default='cuda' if cuda else 'cpu')
    parser.add_argument('--model', default='ViT-B-16' if cuda else 'tiny',
                        help='open_clip model of (a): "tiny" (the test tower) or e.g. ViT-B-16 (random weights)')
    parser.add_argument('--precision', default='fp32', choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--images', type=int, default=2048 if cuda else 512, help='JPEGs for (a)')
    parser.add_argument('--batch-size', type=int, default=256 if cuda else 64)
    parser.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1) if cuda else 0)
    parser.add_argument('--loop-repeats', type=int, default=2, help='(a): best of N alternating runs')
    parser.add_argument('--scale', type=float, default=1.0 if cuda else 0.1,
                        help='(b): fraction of 90k test features and of the 100k bank')
    parser.add_argument('--repeats', type=int, default=5, help='(b), (c), (d): timed runs per measurement')
    parser.add_argument('--vit-batch', type=int, default=64 if cuda else 4, help='(d): ViT-B/16 batch')
    parser.add_argument('--npos-batch', type=int, default=0 if cuda else 8,
                        help='(e): batch of the measured training step, scaled linearly to the recipe batches '
                             '(0: the recipe batches themselves, 800 and 1000)')
    parser.add_argument('--npos-repeats', type=int, default=5 if cuda else 1,
                        help='(e): timed runs per measurement (median)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    print(f'mmood benchmark on {device} ({torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"}, '
          f'{torch.get_num_threads()} threads), torch {torch.__version__}')
    loop_rates, rescore_times = None, None
    with tempfile.TemporaryDirectory() as tmp:
        if 'loop' in args.parts:
            loop_rates = part_loop(args, device, tmp)
        if 'rescore' in args.parts:
            rescore_times = part_rescore(args, device)
        if 'mining' in args.parts:
            part_mining(args, tmp)
        if 'saving' in args.parts:
            part_saving(args, device, loop_rates, rescore_times)
        if 'synthesis' in args.parts:
            part_synthesis(args, device)


if __name__ == '__main__':
    main()
