"""compdiff: runnable companion to *How Diffusion Models Learn to Factorize and Compose*
(Liang, Liu, Ostrow, Fiete; NeurIPS 2024; arXiv 2408.13256).

Heavy imports (torch, matplotlib, ripser, umap) live in the submodules, so that
``import compdiff`` is cheap and the train-and-evaluate path imports without the
analysis packages.
"""

__version__ = "0.1.0"
