"""DICOM from ECG carts and imaging devices: a watched inbox and STOW-RS, files kept in the blob store."""
