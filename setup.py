"""Install with ``pip install -e .``.

The repository keeps the CoOp family's layout (``trainers/`` and ``datasets/`` at the top), but
they install as ``metaprompt.trainers`` and ``metaprompt.datasets``: a top-level ``datasets``
module in site-packages would shadow Hugging Face's ``datasets``.
"""
from setuptools import find_packages, setup

core = find_packages(include=["metaprompt", "metaprompt.*"])

setup(
    name="metaprompt",
    version="0.1.0",
    description="ProMetaR and GRAM meta-regularized prompt learning for CLIP, as Dassl/CoOp trainers",
    python_requires=">=3.9",
    packages=core + ["metaprompt.trainers", "metaprompt.datasets"],
    package_dir={"metaprompt.trainers": "trainers", "metaprompt.datasets": "datasets"},
    include_package_data=True,
    package_data={"metaprompt": ["data/*"]},
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "clip-anytorch>=2.5",
        "setuptools<81",  # `import clip` needs pkg_resources, gone from setuptools 81
        "yacs>=0.1.8",
        "tabulate",
        "tqdm",
        "tensorboard",
        "numpy",
        "pillow",
    ],
    # scipy: .mat label files; matplotlib: figure tests; submitit: the sweep's Slurm launcher (pure Python)
    extras_require={"test": ["pytest>=7", "scipy", "matplotlib", "submitit>=1.5"], "plots": ["matplotlib"],
                    "slurm": ["submitit>=1.5"]},
    entry_points={"console_scripts": ["metaprompt-train=metaprompt.cli.train:main",
                                      "metaprompt-sweep=metaprompt.sweep.cli:main"]},
)
