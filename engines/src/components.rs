//! Loaded ONNX components and a positional run helper: inputs and outputs are matched to the
//! manifest's declared order, so bundles may name their tensors freely.

use std::borrow::Cow;

use ort::session::{RunOptions, SessionInputValue};
use ort::value::TensorRef;

use crate::bundle::{Bundle, ComponentReport};
use crate::error::{EngineError, RuntimeError};
use crate::manifest::ComponentSpec;
use crate::runtime::{LoadedSession, Runtime};

/// An input tensor borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input<'a> {
    F32(&'a [usize], &'a [f32]),
    I64(&'a [usize], &'a [i64]),
}

/// An f32 output copied out of ONNX Runtime.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// One component with its session.
#[derive(Debug)]
pub(crate) struct Component {
    name: String,
    spec: ComponentSpec,
    loaded: LoadedSession,
}

impl Component {
    fn load(bundle: &Bundle, runtime: &Runtime, name: &str) -> Result<Component, RuntimeError> {
        let spec = bundle
            .component(name)
            .cloned()
            .ok_or_else(|| RuntimeError::Session {
                component: name.to_owned(),
                path: bundle.dir().to_owned(),
                reason: "the manifest has no such component".to_owned(),
            })?;
        let loaded = runtime.load_session(name, &spec, &bundle.file_path(&spec.file))?;
        Ok(Component {
            name: name.to_owned(),
            spec,
            loaded,
        })
    }

    fn error(&self, reason: impl Into<String>) -> EngineError {
        EngineError::Inference {
            component: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Runs the component with `inputs` in manifest order and returns its outputs in manifest
    /// order. A terminated run comes back as an error; the caller decides whether it was a cancel.
    pub fn run(
        &mut self,
        inputs: &[Input<'_>],
        run_options: &RunOptions,
    ) -> Result<Vec<Output>, EngineError> {
        if inputs.len() != self.spec.inputs.len() {
            return Err(self.error(format!(
                "{} inputs given, {} declared",
                inputs.len(),
                self.spec.inputs.len()
            )));
        }
        let mut values: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(inputs.len());
        for (spec, input) in self.spec.inputs.iter().zip(inputs) {
            let value: SessionInputValue<'_> = match *input {
                Input::F32(shape, data) => {
                    TensorRef::from_array_view((shape.to_vec(), data)).map(Into::into)
                }
                Input::I64(shape, data) => {
                    TensorRef::from_array_view((shape.to_vec(), data)).map(Into::into)
                }
            }
            .map_err(|e| self.error(format!("input `{}`: {e}", spec.name)))?;
            values.push((Cow::Borrowed(spec.name.as_str()), value));
        }
        let name = self.name.clone();
        let error = |reason: String| EngineError::Inference {
            component: name.clone(),
            reason,
        };
        let outputs = self
            .loaded
            .session
            .run_with_options(values, run_options)
            .map_err(|e| error(e.to_string()))?;
        self.spec
            .outputs
            .iter()
            .map(|spec| {
                let value = outputs.get(&spec.name).ok_or_else(|| {
                    error(format!(
                        "output `{}` missing; run Bundle::verify",
                        spec.name
                    ))
                })?;
                let (shape, data) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| error(format!("output `{}`: {e}", spec.name)))?;
                let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
                Ok(Output {
                    shape,
                    data: data.to_vec(),
                })
            })
            .collect()
    }

    fn report(&self) -> ComponentReport {
        ComponentReport {
            component: self.name.clone(),
            provider: self.loaded.provider,
        }
    }
}

/// The four components of the joint audio+video pipeline.
#[derive(Debug)]
pub(crate) struct JointComponents {
    pub text_encoder: Component,
    pub denoiser: Component,
    pub video_decoder: Component,
    pub audio_decoder: Component,
}

impl JointComponents {
    pub fn load(bundle: &Bundle, runtime: &Runtime) -> Result<Self, RuntimeError> {
        Ok(JointComponents {
            text_encoder: Component::load(bundle, runtime, "text_encoder")?,
            denoiser: Component::load(bundle, runtime, "denoiser")?,
            video_decoder: Component::load(bundle, runtime, "video_decoder")?,
            audio_decoder: Component::load(bundle, runtime, "audio_decoder")?,
        })
    }

    pub fn reports(&self) -> Vec<ComponentReport> {
        [
            &self.text_encoder,
            &self.denoiser,
            &self.video_decoder,
            &self.audio_decoder,
        ]
        .into_iter()
        .map(Component::report)
        .collect()
    }
}
