"""Models the real-time loop can call: ONNX Runtime (anywhere) and TensorRT (a CUDA GPU).

Each is a callable: (3, 128, 128) float32 features → probabilities (n_classes,) float64.
TensorRT engines run through pycuda (JetPack) or cuda-python (desktop); both the binding API
of TensorRT 8.0–8.4 and the tensor API of 8.5+/10 are handled. Python 3.6 rules (see runtime).
"""

import numpy as np


def load_model(path, providers=None):
    """An ONNX file → OnnxRuntimeModel; a TensorRT engine (.engine/.plan) → TensorRTModel."""
    path = str(path)
    if path.endswith((".engine", ".plan", ".trt")):
        return TensorRTModel(path)
    return OnnxRuntimeModel(path, providers)


class OnnxRuntimeModel(object):
    """ONNX Runtime session for a batch-1 model; the input layout is read from its shape."""

    def __init__(self, path, providers=None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1           # the audio thread needs the other cores
        self.session = ort.InferenceSession(str(path), options,
                                            providers=providers or ["CPUExecutionProvider"])
        shape = self.session.get_inputs()[0].shape
        self.nhwc = shape[-1] == 3
        self.name = "onnxruntime"

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32)
        x = x.transpose(1, 2, 0) if self.nhwc else x
        return self.session.run(None, {"input": np.ascontiguousarray(x[None])})[0][0].astype(np.float64)


class _Cuda(object):
    """Minimal device memory + copies + stream via pycuda, else cuda-python."""

    def __init__(self):
        try:
            import pycuda.autoinit  # noqa: F401  (creates the context)
            import pycuda.driver as drv

            self.drv, self.kind = drv, "pycuda"
            self.stream = drv.Stream()
        except ImportError:
            from cuda import cudart

            self.drv, self.kind = cudart, "cuda-python"
            self.stream = self._check(cudart.cudaStreamCreate())

    @staticmethod
    def _check(result):
        err, value = result[0], (result[1] if len(result) > 1 else None)
        if int(err) != 0:
            raise RuntimeError("CUDA call failed: %s" % err)
        return value

    def alloc(self, nbytes):
        if self.kind == "pycuda":
            return self.drv.mem_alloc(nbytes)
        return self._check(self.drv.cudaMalloc(nbytes))

    def to_device(self, dst, host):
        if self.kind == "pycuda":
            self.drv.memcpy_htod_async(dst, host, self.stream)
        else:
            kind = self.drv.cudaMemcpyKind.cudaMemcpyHostToDevice
            self._check(self.drv.cudaMemcpyAsync(dst, host.ctypes.data, host.nbytes, kind, self.stream))

    def to_host(self, host, src):
        if self.kind == "pycuda":
            self.drv.memcpy_dtoh_async(host, src, self.stream)
        else:
            kind = self.drv.cudaMemcpyKind.cudaMemcpyDeviceToHost
            self._check(self.drv.cudaMemcpyAsync(host.ctypes.data, src, host.nbytes, kind, self.stream))

    def handle(self):
        return self.stream.handle if self.kind == "pycuda" else int(self.stream)

    def sync(self):
        if self.kind == "pycuda":
            self.stream.synchronize()
        else:
            self._check(self.drv.cudaStreamSynchronize(self.stream))


class TensorRTModel(object):
    """A serialized TensorRT engine with one input (batch 1) and one output."""

    def __init__(self, path):
        import tensorrt as trt

        self.trt = trt
        self.cuda = _Cuda()
        logger = trt.Logger(trt.Logger.WARNING)
        with open(str(path), "rb") as f:
            self.engine = trt.Runtime(logger).deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise RuntimeError("%s: TensorRT could not load the engine (built by another TensorRT "
                               "version or GPU? rebuild it on this device)" % path)
        self.context = self.engine.create_execution_context()
        self.tensor_api = hasattr(self.engine, "num_io_tensors")
        names = self._io_names()
        self.input_name, self.output_name = names
        self.host_in = np.zeros(self._shape(self.input_name), dtype=np.float32)
        self.host_out = np.zeros(self._shape(self.output_name), dtype=np.float32)
        self.dev_in, self.dev_out = self.cuda.alloc(self.host_in.nbytes), self.cuda.alloc(self.host_out.nbytes)
        self.nhwc = self.host_in.shape[-1] == 3
        self.name = "tensorrt"

    def _io_names(self):
        if self.tensor_api:
            names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
            mode = self.trt.TensorIOMode.INPUT
            return ([n for n in names if self.engine.get_tensor_mode(n) == mode][0],
                    [n for n in names if self.engine.get_tensor_mode(n) != mode][0])
        names = [self.engine.get_binding_name(i) for i in range(self.engine.num_bindings)]
        return ([n for i, n in enumerate(names) if self.engine.binding_is_input(i)][0],
                [n for i, n in enumerate(names) if not self.engine.binding_is_input(i)][0])

    def _shape(self, name):
        if self.tensor_api:
            return tuple(self.engine.get_tensor_shape(name))
        return tuple(self.engine.get_binding_shape(self.engine.get_binding_index(name)))

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32)
        self.host_in[...] = (x.transpose(1, 2, 0) if self.nhwc else x)[None]
        self.cuda.to_device(self.dev_in, self.host_in)
        if self.tensor_api:
            self.context.set_tensor_address(self.input_name, int(self.dev_in))
            self.context.set_tensor_address(self.output_name, int(self.dev_out))
            self.context.execute_async_v3(self.cuda.handle())
        else:
            bindings = [0] * self.engine.num_bindings
            bindings[self.engine.get_binding_index(self.input_name)] = int(self.dev_in)
            bindings[self.engine.get_binding_index(self.output_name)] = int(self.dev_out)
            self.context.execute_async_v2(bindings, self.cuda.handle())
        self.cuda.to_host(self.host_out, self.dev_out)
        self.cuda.sync()
        return self.host_out.reshape(-1).astype(np.float64)
