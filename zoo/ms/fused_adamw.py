"""torch's AdamW in one kernel per parameter: zoo's in-place aot kernel on CPU float32, MindSpore's fused
AdamWeightDecay elsewhere (with the rescaling in zoo/ms/optim.py)."""

from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops

from zoo.core.optim import AdamWConfig
from zoo.ms import kernels

_update = ops.MultitypeFuncGraph("adamw_update")
_update_in_place = ops.MultitypeFuncGraph("adamw_update_in_place")


@_update.register("Function", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor",
                  "Tensor")
def _update_one(kernel, lr, beta1, beta2, eps, decay, param, exp_avg, exp_avg_sq, grad):
    kernel(param, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, decay, grad.astype(param.dtype))
    return True


@_update_in_place.register("Function", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor")
def _update_one_in_place(kernel, hyper, step, param, exp_avg, exp_avg_sq, grad):
    return kernel(param, exp_avg, exp_avg_sq, grad.astype(param.dtype), hyper, step)


class FusedAdamW(nn.Cell):
    """One kernel per parameter and step. On CPU (float32) zoo's aot kernel computes torch's update
    itself; elsewhere AdamWeightDecay gets lr, eps and decay rescaled per step so that its update is
    torch's."""

    def __init__(self, params, config: AdamWConfig) -> None:
        super().__init__()
        self.parameters = ParameterTuple(params)
        self.exp_avg = self.parameters.clone(prefix="exp_avg", init="zeros")
        self.exp_avg_sq = self.parameters.clone(prefix="exp_avg_sq", init="zeros")
        self.step = Parameter(Tensor(0.0, ms.float32), name="adamw_step", requires_grad=False)
        self.lr = Tensor(config.lr, ms.float32)
        self.beta1 = Tensor(config.betas[0], ms.float32)
        self.beta2 = Tensor(config.betas[1], ms.float32)
        self.eps = Tensor(config.eps, ms.float32)
        self.weight_decay = Tensor(config.weight_decay, ms.float32)
        self.hyper = Tensor(np.array([config.lr, *config.betas, config.eps, config.weight_decay], np.float64))
        dtypes = {p.dtype for p in self.parameters}
        self.cpu_kernel = kernels.adamw_update(dtypes.pop()) if len(dtypes) == 1 else None
        self.kernel = ops.AdamWeightDecay()
        self.map = ops.HyperMap()

    def construct(self, grads):
        step = self.step + 1.0
        ops.assign(self.step, step)
        if self.cpu_kernel is not None:
            return self.map(ops.partial(_update_in_place, self.cpu_kernel, self.hyper, step),
                            self.parameters, self.exp_avg, self.exp_avg_sq, grads)
        bias1 = 1.0 - ops.pow(self.beta1, step)              # 1 - b1^t
        bias2_sqrt = ops.sqrt(1.0 - ops.pow(self.beta2, step))  # sqrt(1 - b2^t)
        lr = self.lr * bias2_sqrt / bias1
        eps = self.eps * bias2_sqrt
        decay = self.weight_decay * bias1 / bias2_sqrt         # lr' decay' = lr wd: torch's decoupled decay
        return self.map(ops.partial(_update, self.kernel, lr, self.beta1, self.beta2, eps, decay),
                        self.parameters, self.exp_avg, self.exp_avg_sq, grads)
