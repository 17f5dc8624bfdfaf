"""Training of the generative model (`python -m maskhand train tokenizer|transformer`).

Core code: no bpy. Runs on the CPU, on one GPU, or on several with torchrun (DDP).
"""
