"""The image archive: an index of DICOM studies, series and instances kept in the blob store, the read
side of DICOMweb (QIDO-RS search, WADO-RS retrieve and rendered frames) and a built-in viewer."""

from pathlib import Path

from hub.core.parts import Page, Part

HERE = Path(__file__).resolve().parent

PART = Part(
    name="image_archive",
    description="Index of DICOM studies; DICOMweb QIDO-RS and WADO-RS for viewers; the built-in image viewer.",
    consumer="consumers.image_archive.consumer:ImageArchiveConsumer",
    models="consumers.image_archive.models",
    migrations=HERE / "migrations",
    routers=("consumers.image_archive.routes:router",),
    # Opened from the reading workbench (a link or a same-origin iframe), not from the navigation.
    pages=(Page("/imaging/viewer", "viewer.html", "Image viewer", "影像浏览", nav=False, embeddable=True),),
    pages_dir=HERE / "pages",
)
