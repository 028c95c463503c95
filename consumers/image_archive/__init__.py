"""The image archive: an index of the DICOM studies in the blob store, DICOMweb for viewers, a viewer."""
