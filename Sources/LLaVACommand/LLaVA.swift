import ArgumentParser
@main struct LLaVA: ParsableCommand { func run() throws {} }
