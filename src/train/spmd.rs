//! ZeRO/FSDP-style training through XLA's SPMD partitioner: the train step of the GLOBAL batch is
//! compiled once for `N` partitions (`CompileOptions::spmd(N)`) with `mhlo.sharding` annotations
//! (see [`super::sharded`]): parameters and optimizer slots whose dim 0 divides by `N` live as row
//! blocks, one per device, and the batch is split along its batch axis. XLA inserts the
//! all-gathers and reduce-scatters itself, so each device holds only its block of the state.
//!
//! [`ShardedTrainer`] is the minimal loop around that program: step, read the loss, save the
//! sharded state into a checkpoint (each block written straight into its byte range) and restore
//! any checkpoint onto this sharding. Logging, eval and the hook loop stay with [`super::Trainer`]
//! (which runs the replicated data-parallel path).

use crate::checkpoint::TensorSet;
use crate::config::TrainingArgs;
use crate::data::{Batch, DataCursor, Dataset};
use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::{Arg, Buffer, Client, CompileOptions, Executable};
use crate::{Error, Result};

use super::parallel::batch_slice;
use super::program::{train_step_program_spmd, Program, TensorDesc, STEP_METRICS};
use super::sharded::{row_blocks, upload_placed, DeviceSource, DeviceTensor, Shard};
use super::trainer::total_steps;
use super::TrainState;

/// A training run whose state is sharded over `N` devices by the SPMD partitioner.
pub struct ShardedTrainer {
    client: Client,
    model: ModelConfig,
    dataset: Dataset,
    program: Program,
    exe: Executable,
    /// Device index of each partition, in argument-list order.
    devices: Vec<usize>,
    descs: Vec<TensorDesc>,
    /// `[tensor][partition]`: a row block, or a full copy for replicated tensors.
    shards: Vec<Vec<Buffer>>,
    cursor: DataCursor,
    global_step: u64,
    max_steps: u64,
    compile_time: std::time::Duration,
}

impl ShardedTrainer {
    /// Compiles the SPMD step for `partitions` devices (global batch
    /// `per_device_train_batch_size * partitions`) and places the initial state.
    pub fn new(client: Client, args: &TrainingArgs, partitions: usize) -> Result<ShardedTrainer> {
        let model = args.model_config()?;
        let dataset = Dataset::open(&args.data_spec_for_devices(partitions)?)?;
        let micro = usize::try_from(args.gradient_accumulation_steps)
            .map_err(|_| Error::Usage("gradient_accumulation_steps is too large".into()))?;
        let max_steps = total_steps(args, &dataset)?;
        let optimizer = OptimizerSpec::from_args(args, max_steps);
        let started = std::time::Instant::now();
        let program = train_step_program_spmd(
            &model,
            &optimizer,
            &dataset.batch_layout(),
            micro,
            partitions,
            super::precision::compute_policy(args),
        )?;
        let exe = client.compile(&program.mlir, &CompileOptions::spmd(partitions))?;
        let compile_time = started.elapsed();
        let devices = exe.device_indices();
        let initial = TrainState::initial(&client, &model, &optimizer, args.seed)?;
        let host = initial.to_host()?;
        let descs = initial.descriptors().to_vec();
        let mut trainer = ShardedTrainer {
            client,
            model,
            cursor: dataset.start_cursor(),
            dataset,
            program,
            exe,
            devices,
            descs,
            shards: Vec::new(),
            global_step: 0,
            max_steps,
            compile_time,
        };
        trainer.place(|i, _| Ok(host[i].as_slice()))?;
        Ok(trainer)
    }

    fn place<'a>(
        &mut self,
        mut bytes_of: impl FnMut(usize, &TensorDesc) -> Result<&'a [u8]>,
    ) -> Result<()> {
        let mut shards = Vec::with_capacity(self.descs.len());
        for (i, desc) in self.descs.iter().enumerate() {
            let bytes = bytes_of(i, desc)?;
            shards.push(upload_placed(
                &self.client,
                desc,
                bytes,
                &self.devices,
                true,
            )?);
        }
        self.shards = shards;
        Ok(())
    }

    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    pub fn num_devices(&self) -> usize {
        self.devices.len()
    }

    pub fn global_step(&self) -> u64 {
        self.global_step
    }

    pub fn cursor(&self) -> &DataCursor {
        &self.cursor
    }

    /// Optimizer steps of the run (`max_steps`, or the epochs over a data file).
    pub fn max_steps(&self) -> u64 {
        self.max_steps
    }

    /// Time spent building and compiling the SPMD step.
    pub fn compile_time(&self) -> std::time::Duration {
        self.compile_time
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// The StableHLO text of the step (with its sharding annotations).
    pub fn train_step_mlir(&self) -> &str {
        &self.program.mlir
    }

    /// The state's descriptors (global shapes), in state order.
    pub fn descriptors(&self) -> &[TensorDesc] {
        &self.descs
    }

    /// What each device holds of tensor `name`: one buffer per device, in partition order.
    pub fn shards_of(&self, name: &str) -> Option<&[Buffer]> {
        let i = self.descs.iter().position(|d| d.name == name)?;
        self.shards.get(i).map(Vec::as_slice)
    }

    /// One optimizer step on the next global batch; returns its (all-device) mean loss.
    pub fn step(&mut self) -> Result<f64> {
        let metrics = self.step_metrics()?;
        let loss = match metrics.first() {
            Some(buffer) => buffer.to_vec::<f32>()?.first().copied(),
            None => None,
        };
        Ok(f64::from(loss.unwrap_or(f32::NAN)))
    }

    /// One optimizer step on the next global batch, without waiting for it: returns the step's
    /// metric scalars (`STEP_METRICS`: loss, grad_norm, learning_rate) as partition 0 holds them,
    /// still on the device, to be read when they are logged.
    pub fn step_metrics(&mut self) -> Result<Vec<Buffer>> {
        let micro = self.program.x.shape[0];
        let batches: Vec<Batch> = (0..micro)
            .map(|_| self.dataset.next_batch(&mut self.cursor))
            .collect();
        let n = self.devices.len();
        let x_dims = block_dims(&self.program.x, n);
        let y_dims = block_dims(&self.program.y, n);
        let mut inputs = Vec::with_capacity(n);
        for (partition, &device) in self.devices.iter().enumerate() {
            let slices: Vec<Batch> = batches
                .iter()
                .map(|b| batch_slice(b, partition, n))
                .collect::<Result<_>>()?;
            let x = match slices.first().map(|b| &b.x) {
                Some(crate::data::Inputs::F32(_)) => {
                    let all: Vec<f32> = slices
                        .iter()
                        .flat_map(|b| match &b.x {
                            crate::data::Inputs::F32(v) => v.clone(),
                            crate::data::Inputs::I32(_) => Vec::new(),
                        })
                        .collect();
                    self.client.upload(&all, &x_dims, device)?
                }
                _ => {
                    let all: Vec<i32> = slices
                        .iter()
                        .flat_map(|b| match &b.x {
                            crate::data::Inputs::I32(v) => v.clone(),
                            crate::data::Inputs::F32(_) => Vec::new(),
                        })
                        .collect();
                    self.client.upload(&all, &x_dims, device)?
                }
            };
            let y: Vec<i32> = slices.iter().flat_map(|b| b.y.iter().copied()).collect();
            inputs.push((x, self.client.upload(&y, &y_dims, device)?));
        }
        let shards = std::mem::take(&mut self.shards);
        let mut per_device: Vec<Vec<Arg>> = (0..n).map(|_| Vec::new()).collect();
        for tensor in shards {
            for (list, buffer) in per_device.iter_mut().zip(tensor) {
                list.push(Arg::Donated(buffer));
            }
        }
        for (list, (x, y)) in per_device.iter_mut().zip(&inputs) {
            list.push(Arg::Borrowed(x));
            list.push(Arg::Borrowed(y));
        }
        let outputs = self.exe.execute_replicated(per_device)?;
        let count = self.descs.len();
        let mut shards: Vec<Vec<Buffer>> = (0..count).map(|_| Vec::with_capacity(n)).collect();
        let mut metrics = None;
        for mut device_outputs in outputs {
            if device_outputs.len() != count + STEP_METRICS.len() {
                return Err(Error::ExecuteArgs(format!(
                    "the SPMD step returned {} results, expected {}",
                    device_outputs.len(),
                    count + STEP_METRICS.len()
                )));
            }
            // all-reduced in the program: partition 0's stand for every device
            let device_metrics = device_outputs.split_off(count);
            metrics.get_or_insert(device_metrics);
            for (slot, buffer) in shards.iter_mut().zip(device_outputs) {
                slot.push(buffer);
            }
        }
        self.shards = shards;
        self.global_step += 1;
        Ok(metrics.unwrap_or_default())
    }

    /// Checkpoint sources of the sharded state: the model (first `n_params` tensors) and the
    /// optimizer set. Row blocks are written by the device that holds them; replicated tensors
    /// once, from partition 0.
    pub fn checkpoint_sources(&self) -> Result<(DeviceSource<'_>, DeviceSource<'_>)> {
        let n = self.devices.len();
        let mut tensors = Vec::with_capacity(self.descs.len());
        for (desc, buffers) in self.descs.iter().zip(&self.shards) {
            let shards = match row_blocks(&desc.shape, n) {
                Some(blocks) => blocks
                    .into_iter()
                    .zip(buffers)
                    .map(|(rows, buffer)| Shard { rows, buffer })
                    .collect(),
                None => {
                    let buffer = buffers.first().ok_or_else(|| {
                        Error::BufferShape(format!("tensor {} has no buffer", desc.name))
                    })?;
                    vec![Shard {
                        rows: 0..desc.shape.first().copied().unwrap_or(1),
                        buffer,
                    }]
                }
            };
            tensors.push(DeviceTensor {
                desc: desc.clone(),
                shards,
            });
        }
        let n_params = self.model.param_specs()?.len();
        let optimizer = tensors.split_off(n_params.min(tensors.len()));
        Ok((DeviceSource::new(tensors)?, DeviceSource::new(optimizer)?))
    }

    /// Restores a checkpoint (from any device count or sharding) onto this sharding: each
    /// device uploads only its row block's bytes of the mapped files.
    pub fn restore(
        &mut self,
        model: &TensorSet,
        optimizer: &TensorSet,
        global_step: u64,
        cursor: DataCursor,
    ) -> Result<()> {
        self.dataset.check_cursor(&cursor)?;
        self.place(|_, desc| {
            model
                .get(&desc.name)
                .or_else(|| optimizer.get(&desc.name))
                .map(|(_, bytes)| bytes)
                .ok_or_else(|| {
                    Error::BufferShape(format!("the checkpoint has no tensor {}", desc.name))
                })
        })?;
        self.global_step = global_step;
        self.cursor = cursor;
        Ok(())
    }
}

/// Per-device dims of a batch tensor `[micro, batch, ..]` split along the batch axis.
fn block_dims(desc: &TensorDesc, partitions: usize) -> Vec<i64> {
    let mut dims = desc.dims();
    if let Some(batch) = dims.get_mut(1) {
        *batch /= partitions as i64;
    }
    dims
}
