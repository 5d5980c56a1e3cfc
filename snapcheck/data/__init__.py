"""Paired training data for the cat generator: photos → (outline, RGBA cat face), and the tf.data loader."""
