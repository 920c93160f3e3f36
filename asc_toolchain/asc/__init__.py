"""stm32-asc training stages: log-mel features, windows, augmentation, the CNN, training,
and int8 quantization (the run's `model_int8.tflite`).
"""
