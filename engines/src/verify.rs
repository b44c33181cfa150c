//! Checks an ONNX session's real interface against the manifest's declaration.

use std::fmt;

use ort::session::Session;
use ort::value::{Outlet, TensorElementType, ValueType};

use crate::manifest::{ComponentSpec, Dim, Dtype, TensorSpec};

/// One difference between a manifest and an ONNX file, found by [`crate::Bundle::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The ONNX file could not be loaded at all (corrupt, truncated, unsupported operator).
    Load {
        /// Component name.
        component: String,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The manifest declares a tensor the ONNX graph does not have.
    Missing {
        /// Component name.
        component: String,
        /// `input` or `output`.
        side: &'static str,
        /// Declared name.
        name: String,
        /// Names the graph really has on that side.
        available: Vec<String>,
    },
    /// The graph needs an input the manifest does not declare (it would never be fed).
    Undeclared {
        /// Component name.
        component: String,
        /// Graph input name.
        name: String,
    },
    /// Element types differ.
    Dtype {
        /// Component name.
        component: String,
        /// Tensor name.
        name: String,
        /// Manifest dtype.
        declared: Dtype,
        /// Graph dtype, as ONNX Runtime names it.
        actual: String,
    },
    /// Ranks differ.
    Rank {
        /// Component name.
        component: String,
        /// Tensor name.
        name: String,
        /// Manifest rank.
        declared: usize,
        /// Graph rank.
        actual: usize,
    },
    /// A dimension fixed in both manifest and graph has different sizes.
    Dim {
        /// Component name.
        component: String,
        /// Tensor name.
        name: String,
        /// Axis index.
        axis: usize,
        /// Manifest size.
        declared: i64,
        /// Graph size.
        actual: i64,
    },
    /// The graph value is not a tensor (sequence, map...).
    NotTensor {
        /// Component name.
        component: String,
        /// Value name.
        name: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Load { component, reason } => {
                write!(
                    f,
                    "{component}: the ONNX file cannot be loaded ({reason}); re-copy or re-export it"
                )
            }
            Mismatch::Missing {
                component,
                side,
                name,
                available,
            } => write!(
                f,
                "{component}: manifest declares {side} `{name}` but the graph's {side}s are [{}]",
                available.join(", ")
            ),
            Mismatch::Undeclared { component, name } => {
                write!(
                    f,
                    "{component}: graph input `{name}` is not declared in the manifest"
                )
            }
            Mismatch::Dtype {
                component,
                name,
                declared,
                actual,
            } => {
                write!(
                    f,
                    "{component}: `{name}` is {actual} in the graph, {declared} in the manifest"
                )
            }
            Mismatch::Rank {
                component,
                name,
                declared,
                actual,
            } => {
                write!(
                    f,
                    "{component}: `{name}` has rank {actual} in the graph, {declared} in the manifest"
                )
            }
            Mismatch::Dim {
                component,
                name,
                axis,
                declared,
                actual,
            } => write!(
                f,
                "{component}: `{name}` axis {axis} is {actual} in the graph, {declared} in the manifest"
            ),
            Mismatch::NotTensor { component, name } => {
                write!(f, "{component}: `{name}` is not a tensor in the graph")
            }
        }
    }
}

fn dtype_matches(declared: Dtype, actual: TensorElementType) -> bool {
    matches!(
        (declared, actual),
        (Dtype::Float32, TensorElementType::Float32)
            | (Dtype::Float16, TensorElementType::Float16)
            | (Dtype::Bfloat16, TensorElementType::Bfloat16)
            | (Dtype::Int64, TensorElementType::Int64)
            | (Dtype::Int32, TensorElementType::Int32)
            | (Dtype::Uint8, TensorElementType::Uint8)
            | (Dtype::Bool, TensorElementType::Bool)
    )
}

/// All mismatches between `spec` and the loaded `session`; empty when they agree.
pub(crate) fn compare(component: &str, spec: &ComponentSpec, session: &Session) -> Vec<Mismatch> {
    let mut found = Vec::new();
    compare_side(
        component,
        "input",
        &spec.inputs,
        session.inputs(),
        &mut found,
    );
    compare_side(
        component,
        "output",
        &spec.outputs,
        session.outputs(),
        &mut found,
    );
    for outlet in session.inputs() {
        if !spec.inputs.iter().any(|t| t.name == outlet.name()) {
            found.push(Mismatch::Undeclared {
                component: component.to_owned(),
                name: outlet.name().to_owned(),
            });
        }
    }
    found
}

fn compare_side(
    component: &str,
    side: &'static str,
    declared: &[TensorSpec],
    actual: &[Outlet],
    found: &mut Vec<Mismatch>,
) {
    for tensor in declared {
        let Some(outlet) = actual.iter().find(|o| o.name() == tensor.name) else {
            found.push(Mismatch::Missing {
                component: component.to_owned(),
                side,
                name: tensor.name.clone(),
                available: actual.iter().map(|o| o.name().to_owned()).collect(),
            });
            continue;
        };
        let ValueType::Tensor { ty, shape, .. } = outlet.dtype() else {
            found.push(Mismatch::NotTensor {
                component: component.to_owned(),
                name: tensor.name.clone(),
            });
            continue;
        };
        if !dtype_matches(tensor.dtype, *ty) {
            found.push(Mismatch::Dtype {
                component: component.to_owned(),
                name: tensor.name.clone(),
                declared: tensor.dtype,
                actual: ty.to_string(),
            });
        }
        if shape.len() != tensor.shape.len() {
            found.push(Mismatch::Rank {
                component: component.to_owned(),
                name: tensor.name.clone(),
                declared: tensor.shape.len(),
                actual: shape.len(),
            });
            continue;
        }
        for (axis, (dim, &size)) in tensor.shape.iter().zip(shape.iter()).enumerate() {
            // Graph dims are -1 when dynamic; only two fixed sizes can disagree.
            if let Dim::Fixed(declared) = *dim
                && size > 0
                && size != declared
            {
                found.push(Mismatch::Dim {
                    component: component.to_owned(),
                    name: tensor.name.clone(),
                    axis,
                    declared,
                    actual: size,
                });
            }
        }
    }
}
