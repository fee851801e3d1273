//! One dense layer of the GPU engine: its parameters, activations and gradients on the device,
//! and the prepared calls of its forward pass, its backward pass and its update.

use super::optim::OptTensor;
use crate::gpu::matmul::MatmulCall;

/// Layer `l`'s buffers and calls (`B` the batch, `in`/`out` the layer's sizes).
pub(super) struct GpuLayer {
    /// W `[out][in]` and b `[out]`, padded with zeros to whole vec4s (the optimizer kernel
    /// reads vec4s; every other kernel touches only the leading elements).
    pub(super) w: wgpu::Buffer,
    pub(super) b: wgpu::Buffer,
    /// a `[B][out]`: the layer's output after its activation (the output layer's z).
    pub(super) a: wgpu::Buffer,
    /// dz `[B][out]`: ∂L/∂z of the layer.
    pub(super) dz: wgpu::Buffer,
    /// dW `[out][in]` and db `[out]` (padded): written by the reported step and by every
    /// optimizer but plain SGD.
    pub(super) grad_w: wgpu::Buffer,
    pub(super) grad_b: wgpu::Buffer,
    /// a `[B][out]` = act(input `[B][in]` · Wᵀ + b): matmul NT with the bias+act epilogue.
    pub(super) forward: MatmulCall,
    /// dz_{l−1} `[B][in]` = (dz `[B][out]` · W) ⊙ act'(a_{l−1}): matmul NN with the act-grad
    /// epilogue; the first layer has one only in report mode (dx, stored).
    pub(super) input_grad: Option<MatmulCall>,
    /// dzᵀ·input `[out][in]` with the update of the optimizer in force (fused SGD, the fused
    /// rule, or a store of dW): matmul TN. Made by `prepare_updates`.
    pub(super) weight_grad: Option<MatmulCall>,
    /// The bias kernel's bind group and uniforms: db = Σ_rows dz, with plain SGD's update.
    pub(super) bias_grad: Option<(wgpu::BindGroup, wgpu::Buffer)>,
    /// The optimizer's calls on W and on b (every rule but plain SGD).
    pub(super) opt: Option<[OptTensor; 2]>,
}

impl GpuLayer {
    pub(super) fn weight_grad(&self) -> &MatmulCall {
        self.weight_grad
            .as_ref()
            .expect("prepare_updates made the weight products")
    }

    pub(super) fn bias_grad(&self) -> &wgpu::BindGroup {
        &self
            .bias_grad
            .as_ref()
            .expect("prepare_updates made the bias calls")
            .0
    }
}
