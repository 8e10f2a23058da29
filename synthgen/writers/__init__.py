"""Writers of generated data, tables and images side by side, on one contract:

- Lightning's `trainer.predict` hands each rank its chunks (synthgen/data.py: one batch = one
  chunk); the modality's `ChunkWriter` (chunks.py) writes each chunk's files into the staging
  folder under hidden temporary names and renames them when complete. Their bytes depend only on
  the seed and the chunk (global row/image index), never on the number of processes or the
  order in which chunks finish.
- Rank 0 then calls the writer's `finish(chunks, info)`: `read_chunks` (chunks.py), the one
  completeness check, fails naming the chunk when one is missing or short; the manifest is
  written atomically; pipeline.generate swaps the staging folder into place.

table.py  TableChunkWriter: part-NNNNNN.parquet shards (copy redraws, exact values) + _manifest.json
image.py  ImageChunkWriter: <class>/img-NNNNNNNN.png + _manifest.parquet (+ images.parquet)
png.py    PNG bytes and sample grids (no pillow in the written bytes)
"""

from __future__ import annotations

# What each modality's output is and how to read it (synthgen summary).
OUTPUT_NOTES = {
    "tabular": "synthetic Parquet: {folder}/  (read with pandas.read_parquet on the folder)",
    "image": "synthetic images: {folder}/<class>/*.png with {folder}/_manifest.parquet "
    "(torchvision ImageFolder reads the folder as it is)",
}
