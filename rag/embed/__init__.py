"""Text to vectors: the embedder, its ONNX runtime, and the bundled-model converter."""
