"""The ML runtime: plain Python over torch and transformers. No Django imports here, so it can be tested
and benchmarked alone."""
