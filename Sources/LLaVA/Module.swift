// LLaVA
