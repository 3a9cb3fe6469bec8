//! coreship's builder: compile BPF C once into relocatable CO-RE objects.
#![deny(missing_docs)]
