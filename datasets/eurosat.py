"""EuroSAT (RGB, 10 land-use classes), CoOp layout: ``eurosat/2750/<class>/*``, ``split_zhou_EuroSAT.json``.

Folder names become descriptive class names ("AnnualCrop" -> "Annual Crop Land"). A missing split:
a 50/20/30 cut per class folder with the run's seed (sorted listing).
"""
from __future__ import annotations

from metaprompt.runtime import register_dataset

from .base import CoOpDataset, read_and_split_data

CLASSNAMES = {
    "AnnualCrop": "Annual Crop Land",
    "Forest": "Forest",
    "HerbaceousVegetation": "Herbaceous Vegetation Land",
    "Highway": "Highway or Road",
    "Industrial": "Industrial Buildings",
    "Pasture": "Pasture Land",
    "PermanentCrop": "Permanent Crop Land",
    "Residential": "Residential Buildings",
    "River": "River",
    "SeaLake": "Sea or Lake",
}


@register_dataset
class EuroSAT(CoOpDataset):
    dataset_dir = "eurosat"
    image_subdir = "2750"
    split_name = "split_zhou_EuroSAT.json"
    sources = {
        "2750": "Extract EuroSAT.zip (the RGB version, from the EuroSAT authors) into eurosat/; it creates 2750/.",
        "split_zhou_EuroSAT.json": "Download split_zhou_EuroSAT.json (link in CoOp's DATASETS.md) into eurosat/.",
    }
    download_hint = "Images: EuroSAT.zip (RGB) from the EuroSAT authors; split: CoOp's DATASETS.md link."
    published = {"train": (10, 13500), "val": (10, 5400), "test": (10, 8100)}

    def build_split(self):
        return read_and_split_data(self.image_dir, new_cnames=CLASSNAMES)
