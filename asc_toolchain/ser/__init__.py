"""jetson-ser: real-time speech emotion recognition for an NVIDIA Jetson Nano (SPEC §8).

features (numpy only) → data (CSV, RAVDESS, EmoDB) → ResNet34 or EfficientNet-Lite0 training →
ONNX export (tf2onnx) → TensorRT engine → real-time listening with mitigation → deploy bundle. The modules that go
to the device (features, runtime, device_models, device_main) run on Python 3.6 + numpy.
"""
