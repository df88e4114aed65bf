"""Course kit for teaching and autograding a Keras CNN on MNIST."""

__version__ = "0.1.0"
