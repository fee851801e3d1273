//! The fast CPU path's buffers, sized once and reused, and the per-phase clock of
//! `gpunn bench`.

use super::sync::SpinBarrier;
use super::MIN_ROWS;
use crate::model::Params;
use std::time::Instant;

/// Every buffer a step needs, sized once for the largest batch seen and reused.
#[derive(Default)]
pub(super) struct Workspace {
    /// Capacity in batch rows.
    pub(super) rows: usize,
    /// Layer sizes (inputs first) the buffers were made for.
    pub(super) sizes: Vec<usize>,
    /// The gathered batch, `[rows][inputs]`.
    pub(super) x: Vec<f32>,
    /// Activation outputs per layer, `[rows][sizes[l + 1]]`; the last is the network output.
    pub(super) acts: Vec<Vec<f32>>,
    /// The output layer's pre-activation, `[rows][outputs]`.
    pub(super) z_out: Vec<f32>,
    /// `∂L/∂z` per layer, `[rows][sizes[l + 1]]`; one buffer per layer, so that a thread can
    /// write layer l − 1's while another still reads layer l's.
    pub(super) dz: Vec<Vec<f32>>,
    /// One per thread.
    pub(super) scratch: Vec<Scratch>,
}

#[derive(Default)]
pub(super) struct Scratch {
    /// Bias-gradient sums, one per neuron of the widest layer.
    pub(super) sums: Vec<f32>,
    /// The labels of the thread's rows.
    pub(super) labels: Vec<u32>,
    /// The target values of the thread's rows (regression), `[rows][outputs]`.
    pub(super) values: Vec<f32>,
    /// The sample weights of the thread's rows, where the dataset has weights.
    pub(super) weights: Vec<f32>,
}

impl Workspace {
    pub(super) fn ensure(&mut self, params: &Params, rows: usize, threads: usize) {
        let sizes = params.spec().sizes;
        let rows = rows.max(MIN_ROWS).max(threads);
        if self.sizes == sizes && self.rows >= rows && self.scratch.len() == threads {
            return;
        }
        let widest = sizes[1..].iter().copied().max().unwrap_or(0);
        let outputs = *sizes.last().expect("sizes");
        *self = Workspace {
            rows,
            x: vec![0.0; rows * sizes[0]],
            acts: sizes[1..].iter().map(|&n| vec![0.0; rows * n]).collect(),
            z_out: vec![0.0; rows * outputs],
            dz: sizes[1..].iter().map(|&n| vec![0.0; rows * n]).collect(),
            scratch: (0..threads)
                .map(|_| Scratch {
                    sums: vec![0.0; widest],
                    labels: vec![0; rows],
                    values: Vec::new(),
                    weights: Vec::new(),
                })
                .collect(),
            sizes,
        };
    }
}

/// The phases of a step, timed by [`Engine::profile`], with the names the GPU engine gives
/// its kernel families.
#[derive(Clone, Copy)]
pub(super) enum Phase {
    Gather,
    Forward,
    Loss,
    InputGrad,
    WeightSgd,
    Bias,
    Optimizer,
    Sync,
}

pub(super) const PHASES: [(Phase, &str); 8] = [
    (Phase::Gather, "gather"),
    (Phase::Forward, "matmul forward (bias+act)"),
    (Phase::Loss, "softmax/loss"),
    (Phase::InputGrad, "matmul input grad (act')"),
    (Phase::WeightSgd, "matmul weight grad + SGD"),
    (Phase::Bias, "bias grad + SGD"),
    (Phase::Optimizer, "optimizer"),
    (Phase::Sync, "barriers (waiting for the other threads)"),
];

/// Wall time per phase as thread 0 sees it (the threads work in step, so that is the step's
/// time), when profiling; a no-op otherwise.
pub(super) struct Clock {
    pub(super) last: Option<Instant>,
    pub(super) seconds: [f64; PHASES.len()],
}

impl Clock {
    pub(super) fn new(on: bool) -> Self {
        Clock {
            last: on.then(Instant::now),
            seconds: [0.0; PHASES.len()],
        }
    }

    /// Charges the time since the last lap to `phase`.
    #[inline]
    pub(super) fn lap(&mut self, phase: Phase) {
        if let Some(last) = &mut self.last {
            let now = Instant::now();
            self.seconds[phase as usize] += (now - *last).as_secs_f64();
            *last = now;
        }
    }

    /// Charges the time so far to `phase`, waits at the barrier and charges that to `Sync`.
    #[inline]
    pub(super) fn wait(&mut self, phase: Phase, barrier: &SpinBarrier) {
        self.lap(phase);
        barrier.wait();
        self.lap(Phase::Sync);
    }
}
