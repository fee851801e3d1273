//! A trained network as an ONNX model: raw inputs `[batch][inputs]` go in as they go into
//! `gpunn predict`/`eval` (pixels 0..=255 divided by 255, then the stored feature scaling),
//! through one `Gemm` and activation per layer, and the outputs come out as the library gives
//! them (probabilities of a softmax or sigmoid output; regression values in the targets'
//! original units).

use super::onnx_proto::*;
use crate::data::scale::Scaler;
use crate::model::{Activation, Params, LEAKY_SLOPE};
use crate::{Error, Result};
use prost::Message;

/// The standard operators at this version: `Softmax` over the last axis, `Gemm` with an
/// optional bias.
pub const OPSET: i64 = 13;
/// The IR version that goes with opset 13.
pub const IR_VERSION: i64 = 7;
/// The graph's input and output names.
pub const INPUT: &str = "input";
pub const OUTPUT: &str = "output";

/// How raw inputs become the network's inputs, and its outputs the caller's values.
#[derive(Clone, Debug, Default)]
pub struct Io {
    /// The model was trained on pixels 0..=255, seen as pixel/255.
    pub pixels: bool,
    /// The feature scaling after that, and the regression targets' units.
    pub scaler: Scaler,
}

/// The ONNX model of `params` with `io` as nodes of its graph, encoded.
pub fn onnx_bytes(params: &Params, io: &Io, doc: &str) -> Result<Vec<u8>> {
    let (inputs, outputs) = (params.inputs(), params.outputs());
    let s = &io.scaler;
    if !s.shift.is_empty() && (s.shift.len() != inputs || s.scale.len() != inputs) {
        return Err(Error::invalid(
            "scaler",
            format!(
                "scales {} features; the network takes {inputs}",
                s.shift.len()
            ),
        ));
    }
    if !s.target_shift.is_empty()
        && (s.target_shift.len() != outputs || s.target_scale.len() != outputs)
    {
        return Err(Error::invalid(
            "scaler",
            format!(
                "maps {} targets back to their units; the network gives {outputs}",
                s.target_shift.len()
            ),
        ));
    }
    let mut g = Graph::default();
    let mut x = INPUT.to_string();
    // [B][inputs] / 255 → − shift → / scale
    if io.pixels {
        let c = g.constant("pixel_scale", &[], &[255.0]);
        x = g.op("Div", &[&x, &c], &[]);
    }
    if !s.shift.is_empty() {
        let shift = g.constant("feature_shift", &[inputs], &s.shift);
        x = g.op("Sub", &[&x, &shift], &[]);
        let scale = g.constant("feature_scale", &[inputs], &s.scale);
        x = g.op("Div", &[&x, &scale], &[]);
    }
    for (l, layer) in params.layers.iter().enumerate() {
        // [B][in] · W[out][in]ᵀ + b[out] → [B][out]
        let w = g.constant(
            &format!("layer{l}.weight"),
            &[layer.outputs, layer.inputs],
            &layer.weights,
        );
        let mut gemm_inputs = vec![x.clone(), w];
        if params.bias {
            gemm_inputs.push(g.constant(&format!("layer{l}.bias"), &[layer.outputs], &layer.bias));
        }
        let refs: Vec<&str> = gemm_inputs.iter().map(String::as_str).collect();
        x = g.op("Gemm", &refs, &[int("transB", 1)]);
        x = match layer.activation {
            Activation::Identity => x,
            Activation::Sigmoid => g.op("Sigmoid", &[&x], &[]),
            Activation::Tanh => g.op("Tanh", &[&x], &[]),
            Activation::Relu => g.op("Relu", &[&x], &[]),
            Activation::LeakyRelu => g.op("LeakyRelu", &[&x], &[float("alpha", LEAKY_SLOPE)]),
            Activation::Softmax => g.op("Softmax", &[&x], &[int("axis", -1)]),
        };
    }
    // [B][outputs] · target_scale + target_shift
    if !s.target_shift.is_empty() {
        let units = g.constant("target_scale", &[outputs], &s.target_scale);
        x = g.op("Mul", &[&x, &units], &[]);
        let shift = g.constant("target_shift", &[outputs], &s.target_shift);
        x = g.op("Add", &[&x, &shift], &[]);
    }
    g.op_into("Identity", &[&x], OUTPUT);
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "gpunn".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc.into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "mlp".into(),
            initializer: g.constants,
            input: vec![tensor_info(INPUT, inputs)],
            output: vec![tensor_info(OUTPUT, outputs)],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: Vec::new(),
    };
    Ok(model.encode_to_vec())
}

/// Nodes and constants in the making; values are named `v0`, `v1`, … in order.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    constants: Vec<TensorProto>,
}

impl Graph {
    /// A constant f32 tensor of shape `dims` (a scalar when empty); its name.
    fn constant(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        self.constants.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            name: name.into(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name.into()
    }

    /// `op_type(inputs)` into a fresh value; its name.
    fn op(&mut self, op_type: &str, inputs: &[&str], attribute: &[AttributeProto]) -> String {
        let out = format!("v{}", self.nodes.len());
        self.push(op_type, inputs, attribute, &out);
        out
    }

    /// `op_type(inputs)` into `out`.
    fn op_into(&mut self, op_type: &str, inputs: &[&str], out: &str) {
        self.push(op_type, inputs, &[], out);
    }

    fn push(&mut self, op_type: &str, inputs: &[&str], attribute: &[AttributeProto], out: &str) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: format!("{op_type}_{}", self.nodes.len()),
            op_type: op_type.into(),
            attribute: attribute.to_vec(),
        });
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: ATTRIBUTE_INT,
        ..Default::default()
    }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: ATTRIBUTE_FLOAT,
        ..Default::default()
    }
}

/// A float tensor `[batch][width]`, the batch left free.
fn tensor_info(name: &str, width: usize) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        Dimension {
                            dim_value: None,
                            dim_param: Some("batch".into()),
                        },
                        Dimension {
                            dim_value: Some(width as i64),
                            dim_param: None,
                        },
                    ],
                }),
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::ScaleKind;
    use crate::model::{Init, Loss, MlpSpec};

    fn ops(bytes: &[u8]) -> Vec<(String, usize)> {
        let m = ModelProto::decode(bytes).expect("prost decodes what it encoded");
        let g = m.graph.expect("a graph");
        g.node
            .into_iter()
            .map(|n| (n.op_type, n.input.len()))
            .collect()
    }

    #[test]
    fn scaling_layers_and_units_become_nodes_in_order() {
        let spec = MlpSpec::new(
            vec![3, 4, 2],
            vec![Activation::LeakyRelu, Activation::Identity],
            Loss::Mse,
        )
        .unwrap();
        let params = Params::init(&spec, Init::XavierUniform, 1).unwrap();
        let scaler = Scaler {
            kind: ScaleKind::Standard,
            shift: vec![0.0; 3],
            scale: vec![1.0; 3],
            target_shift: vec![0.0; 2],
            target_scale: vec![1.0; 2],
        };
        let io = Io {
            pixels: true,
            scaler,
        };
        let names: Vec<(String, usize)> = [
            ("Div", 2),
            ("Sub", 2),
            ("Div", 2),
            ("Gemm", 3),
            ("LeakyRelu", 1),
            ("Gemm", 3),
            ("Mul", 2),
            ("Add", 2),
            ("Identity", 1),
        ]
        .iter()
        .map(|(o, n)| (o.to_string(), *n))
        .collect();
        assert_eq!(ops(&onnx_bytes(&params, &io, "").unwrap()), names);
        // Without bias a Gemm has no third input; without scaling there are no scaling nodes.
        let plain = ops(&onnx_bytes(&params.clone().without_bias(), &Io::default(), "").unwrap());
        assert_eq!(plain[0], ("Gemm".to_string(), 2));
        assert_eq!(plain.len(), 4);
        // A scaler of another width is refused, naming both sizes.
        let mut wrong = io.clone();
        wrong.scaler.shift.push(0.0);
        wrong.scaler.scale.push(1.0);
        let e = onnx_bytes(&params, &wrong, "").unwrap_err().to_string();
        assert!(e.contains("scales 4 features; the network takes 3"), "{e}");
    }
}
