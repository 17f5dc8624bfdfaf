"""The generative masked model (MaskHand / MMHMR): VQ-MANO tokenizer, context-guided masked
transformer, confidence-guided iterative decoding. Checkpoints carry their configs."""
