// DataGeneration
