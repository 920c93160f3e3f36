"""C code generation: tflite reader → IR → lowering → kernel choice + arena planner → render;
the feature front end in C; validation against TFLite Micro; ST Edge AI Core as an alternative backend.
"""
