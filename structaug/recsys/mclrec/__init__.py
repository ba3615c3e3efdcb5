"""MCLRec: meta-optimised contrastive learning for sequential recommendation."""
