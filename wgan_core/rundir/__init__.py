"""A run's life on disk: its files' names (`names`, torch-free), checkpoints (`checkpoints`), the end-of-run
artifacts (`artifacts`), sample grids (`samples`), the toy panel drawing the report shares (`panel`,
torch-free) and the optional TensorBoard log (`tblog`). The writer a training run drives (`RunFiles`)
is the training loop's: wgan_core/training/runfiles.py.

`import wgan_core.rundir` imports no torch: the report reads `names` and `panel`.
"""
