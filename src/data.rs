//! Host-side data: built-in synthetic datasets, byte corpora, token files, and the cursor.
