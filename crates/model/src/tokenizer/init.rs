//! Data-dependent initialisation of the tokenizer's linear shortcut: the principal components of
//! the training data's latent cells (`s x s` pixels x `c` frames x RGB), i.e. the best linear
//! codec of that size (a Karhunen-Loeve transform). The convolutional body starts at zero output
//! and learns a correction on top of it.

use burn::module::Param;
use burn::prelude::*;
use nalgebra::{DMatrix, SymmetricEigen};

use super::model::{cells, Tokenizer};
use crate::data::{sample_batch, Video};
use crate::rng::SplitMix64;
use crate::ModelError;

/// What the initialisation found, for the log.
#[derive(Debug, Clone)]
pub struct PcaInit {
    pub vectors: usize,
    pub dims: usize,
    /// Fraction of the cells' variance the kept components explain.
    pub explained: f64,
}

/// Sets `model`'s encoder and decoder shortcuts from the principal components of `vectors` latent
/// cells drawn from `videos` (with `seed`). Latent channels are scaled to unit variance.
pub fn pca_init(mut model: Tokenizer, videos: &[Video], vectors: usize, seed: u64, device: &Device) -> Result<(Tokenizer, PcaInit), ModelError> {
    let (Some(enc), true) = (model.encoder.shortcut.as_ref(), model.decoder.shortcut.is_some()) else {
        return Err(ModelError::Config("pca_init needs `linear_shortcut: true`".into()));
    };
    let (s, levels) = (model.encoder.spatial, model.encoder.temporal_levels);
    let c = 1usize << levels;
    let k = enc.weight.dims()[0];
    let dims = enc.weight.dims()[1];
    // Crops of 1 + c frames: latent frame 1 holds a full group of c real frames.
    let crop = [4 * s, 4 * s];
    let per_crop = 16;
    let crops = vectors.div_ceil(per_crop).max(1);
    let mut rng = SplitMix64::stream(seed, u64::MAX);
    let mut rows: Vec<f32> = Vec::with_capacity(crops * per_crop * dims);
    let batch = 16;
    let mut done = 0;
    while done < crops {
        let b = batch.min(crops - done);
        let data = sample_batch(videos, &mut rng, b, 1 + c, crop)?;
        let x: Tensor<5> = Tensor::from_data(TensorData::new(data, [b, 3, 1 + c, crop[0], crop[1]]), device);
        let cellt = cells(x, s, levels, true).narrow(2, 1, 1); // [b, dims, 1, 4, 4]
        let m: Tensor<2> = cellt.permute([0, 2, 3, 4, 1]).reshape([b * per_crop, dims]);
        rows.extend_from_slice(m.into_data().as_slice::<f32>().map_err(|e| ModelError::Data(format!("{e:?}")))?);
        done += b;
    }
    let n = rows.len() / dims;
    let x = DMatrix::<f64>::from_row_iterator(n, dims, rows.iter().map(|&v| v as f64));
    let mean = x.row_mean();
    let centred = DMatrix::from_fn(n, dims, |i, j| x[(i, j)] - mean[j]);
    let cov = centred.transpose() * &centred / n as f64;
    let eig = SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..dims).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let total: f64 = eig.eigenvalues.iter().sum();
    let kept: f64 = order[..k].iter().map(|&i| eig.eigenvalues[i]).sum();

    // Encoder: z_i = u_i . (x - mean) / sd_i ; decoder: x = mean + sum_i u_i sd_i z_i.
    let mut we = vec![0f32; k * dims];
    let mut be = vec![0f32; k];
    let mut wd = vec![0f32; dims * k];
    for (r, &i) in order[..k].iter().enumerate() {
        let sd = eig.eigenvalues[i].max(1e-12).sqrt();
        let u = eig.eigenvectors.column(i);
        let mut dot = 0.0;
        for j in 0..dims {
            we[r * dims + j] = (u[j] / sd) as f32;
            wd[j * k + r] = (u[j] * sd) as f32;
            dot += u[j] * mean[j];
        }
        be[r] = (-dot / sd) as f32;
    }
    let bd: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    let enc = model.encoder.shortcut.as_mut().expect("checked");
    enc.weight = Param::from_data(TensorData::new(we, [k, dims, 1, 1, 1]), device);
    enc.bias = Some(Param::from_data(TensorData::new(be, [k]), device));
    let dec_c = model.decoder.shortcut.as_mut().expect("checked");
    dec_c.weight = Param::from_data(TensorData::new(wd, [dims, k, 1, 1, 1]), device);
    dec_c.bias = Some(Param::from_data(TensorData::new(bd, [dims]), device));
    Ok((model, PcaInit { vectors: n, dims, explained: kept / total.max(1e-30) }))
}
