"""The paper's figure captions, verbatim (source S1 of ``shared/paper/spec.md``: the captions
scraped from the NeurIPS 2024 poster page, ``seed-summary.txt``).

Each figure page quotes its caption from here (``notebook.caption_markdown``) and a test checks the
quote, so a caption is typed once. Two gaps, stated where they show:

* Fig 8: the scraper attached Fig 3's caption to the page-14 image, so Fig 8's own caption is not
  known (:data:`MISSING`);
* Fig 9: the scraped caption stops mid-sentence (:data:`TRUNCATED`).
"""

from __future__ import annotations

SOURCE = "S1: figure captions of the NeurIPS 2024 poster page (shared/paper/seed-summary.txt)"

CAPTIONS: dict[int, str] = {
    1: (
        'Example 32 × 32 image data of a 2D Gaussian bump (left) and a 2D Gaussian SOS (right).'
    ),
    2: (
        'Metrics of a model trained using 2D Gaussian bump datasets with periodic boundaries. (a) '
        '2D projections of a standard 3D torus (left) and a 4D Clifford torus (right). The 3D '
        'torus is an example of a coupled representation that can be learned by the model while '
        'the 4D torus is a factorized one. (b) Persistence diagrams of a standard torus (left, '
        'the diagram looks the same for Clifford tori) and the learned representation of the '
        'model at the terminal epoch (right). There are two overlapping orange points for H₁ in '
        'both diagrams. (c) Model accuracy (top) and effective dimension (bottom) of '
        'representation learned by the model as a function of training epochs. (d) PCA '
        "eigenspectrum (the first 15 dimensions) of the model's learned representations and their "
        'corresponding sample accuracy percentage and explained variance ratio of the top 4 PCs '
        '(labeled top right of each panel) at various checkpoints during training. (e)-(g) PCA '
        'visualizations of the learned representations at epoch 0, 150, and terminal epoch, '
        'respectively.'
    ),
    3: (
        'Comparison of orthogonality and parallelism test statistics between 3D torus, model’s '
        'learned representation, and Clifford torus. x-on-y (top row), x-on-x (middle row), '
        'y-on-y (bottom row) orthogonality (left column) and parallelism (right column) test '
        'statistics are compared between (a) an ideal 3D torus (blue), (b) the learned '
        'representation by the model (green), and (c) an ideal Clifford torus (orange).'
    ),
    4: (
        'Models trained on Gaussian SOS datasets to generalize to the test regions. We train '
        'three models on various Gaussian SOS datasets to test their ability to compositionally '
        'generalize in the red-shaded, held-out test regions shown in the sample image (f). (a) '
        'The 2D Gaussian SOS dataset contains all combination of 2D Gaussian SOSs for all x and y '
        'between 0 and 32 except for the held-out range between 13 and 19. (b) The 1D Gaussian '
        'stripe dataset contains horizontal and vertical 1D Gaussian stripes of full range of x '
        'and y values between 0 and 32. The accuracy of the three models in generating the '
        'correct x and y location of the Gaussian SOS is shown for different sections of the test '
        'regions: (c) The vertical section excluding the intersection, (d) the horizontal section '
        'excluding the intersection, and (e) the intersection. (f) Sample image of a 2D Gaussian '
        'SOS with the different test regions labeled. (g) shows the accuracy of models run with '
        'various subsampling rate of the 2D Gaussian bump + 1D Gaussian stripe dataset.'
    ),
    5: (
        'Exponential sample efficiency gains from training the model on independent factors of '
        'variation. (a-b): Results on N = 32 Gaussian 2D bump generation. (a) Model accuracy in '
        'generating 2D Gaussian bumps from training on 2D Gaussian bumps, shown as a function of '
        'the subsampling percentage. (b) Model accuracy in generating 2D Gaussian bumps from '
        'training on mixed 2D Gaussian bumps + 1D Gaussian stripes. Red dashed lines in (a),(b) '
        'mark a threshold accuracy of 0, 60, and 100%. (c) Log-log plot of dataset size needed to '
        'reach 60% threshold accuracy as a function of image size N with 2D Gaussian bumps '
        'training data (blue) versus mixed 2D Gaussian bumps + 1D Gaussian stripe training data '
        '(orange): distinct scalings of data efficiency visualized by dashed gray and black '
        'lines, which provide a linear and quadratic reference, respectively.'
    ),
    6: (
        'Percolation theory of manifold formation and interpolation. (a) Schematic drawing of the '
        'Gaussian bumps of various width on a lattice of grid size dx and dy. (b) Overlaps of '
        'neighboring Gaussian bumps as a function of the grid size d := dx = dy for various '
        'Gaussian widths. (c) Theoretical simulation of largest connected mass ratio as a '
        'function of percentage of data in training set λ with threshold overlap of 0.005 for '
        'various Gaussian widths. (d) Ground truth (left) and generated image (right) of a sample '
        'Gaussian bump data of σ = 0.1 centered at μx = 16 and μy = 16. (e) Terminal accuracy of '
        'models as a function of λ trained with datasets that only differ in the Gaussian bump '
        'widths for various Gaussian bump widths.'
    ),
    7: (
        'The UNet architecture of the conditional diffusion model. The schematic diagram of the '
        'standard UNet architecture consisting of three downsampling/upsampling blocks with '
        'interlaced self-attention layers and skip connections is shown on the left. The '
        'conditional information consisting of a concatenation of positional encodings of '
        'timestep and x/y-positions is passed in at each block as shown on the right.'
    ),
    9: (
        'Sample Gaussian stripe/SOS/bump data images and dataset latent representations used for '
        'generating models in Fig. 4. We generate the 1D Gaussian stripes via embedding the 32 × '
        '32 image frame into an extended latent space of 44 × 44, where the extended portion is '
        'not visible to the model. (a)-(c) show example images of 0D, 1D, and 2D Gaussian SOS '
        'data images, where the dimensionality of the image is defined by the dimension of the '
        'portion of data visible within the 32 × 32 image frame. (d) shows the equivalent '
        'augmentation of 2D Gaussian bump data in the embedded space. For each data image, we '
        'assign its position labels from range 0 to 44 while keeping the image size to be 32 × 32 '
        'by cropping out the “extended space'
    ),
    10: (
        'Comparison between 1D Gaussian stripe dataset with and without 2D Gaussian SOS examples. '
        '(a) shows the latent manifold of a pure 1D Gaussian stripe dataset with the rim of 2D '
        'Gaussian SOS examples removed along the 32 × 32 image space. The overall, ID, and OOD '
        'accuracy of the generate images of the model trained under this dataset is shown in (b) '
        'along with 25 randomly selected generated images in (c). (d) shows the latent manifold '
        'of the 1D Gaussian stripe dataset with 2D Gaussian SOS data included along the image '
        'rim. The overall, ID, and OOD accuracy of the generate images of the model trained under '
        'this dataset is shown in (e) along with 25 randomly selected generated images in (f).'
    ),
    11: (
        'Investigation of model’s ability to interpolate. (a) Data manifold with a vertical '
        'lesion in the center of the manifold of various width. (b) Model OOD accuracy decays as '
        'a function of the width of the lesion. (c) The learned representation (UMAP reduced) of '
        'models trained with datasets of lesion widths 1.0, 3.5, and 8.0.'
    ),
    12: (
        'Interior and exterior compositional generalization of 2D Gaussian bump and 2D Gaussian '
        'SOS datasets. (a) shows a schematic drawing of interior compositional generalization '
        'where we leave out data points within an interior red-shaded OOD region of the data '
        'manifold. (b) shows the a schematic drawing of exterior compositional generalization '
        'where we leave out data points within an exterior red-shaded OOD region of the data '
        'manifold. The size of the OOD regions in both scenario is W × W. (c), (d) shows the '
        'accuracy of models trained on 2D Gaussian bump and 2D Gaussian SOS datasets for interior '
        'compositional generalization as a function of various OOD region width W. (e), (f) shows '
        'the accuracy of models trained on 2D Gaussian bump and 2D Gaussian SOS datasets for '
        'exterior compositional generalization as a function of various OOD region width W.'
    ),
    13: (
        'Percolation simulation of various σ′s with different overlap thresholds.'
    ),
    14: (
        'Supporting figures for percolation simulation and experiments from Fig. 6. (a) Latent '
        'representation of datasets used to generate results in Fig. 6. (b) Simulation of largest '
        "connecting cluster mass ratio with threshold overlap of 0.05 for σ's corresponding to "
        'those shown in Fig. 6(e). (c) The final training and validation losses as a function of '
        'λ of models in Fig. 6(e).'
    ),
    15: (
        'Final learned representations corresponding to models that generated results in Fig. 6.'
    ),
}

# Fig 8's caption is not recoverable (the scraper repeated Fig 3's); see spec §0.3.
MISSING = {8: "The caption of Fig 8 is not available: the scraped page repeats Fig 3's caption for it."}
# Fig 9's scraped caption ends mid-sentence.
TRUNCATED = {9}


def caption(number: int) -> str:
    """The paper's caption of figure ``number`` (1–15), verbatim; an error names the allowed numbers."""
    if number in MISSING:
        raise KeyError(MISSING[number])
    if number not in CAPTIONS:
        raise KeyError(f"figure number {number!r} is not in the paper; allowed: {', '.join(map(str, sorted(CAPTIONS)))}")
    return CAPTIONS[number]
