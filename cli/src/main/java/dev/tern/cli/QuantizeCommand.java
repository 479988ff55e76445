package dev.tern.cli;

import dev.tern.TernException;
import dev.tern.gguf.ModelQuantizer;
import dev.tern.tensor.GGMLType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tern quantize}: re-encode a GGUF model's weights. */
@Command(name = "quantize", description = "Write IN's weights as TYPE into OUT (like llama-quantize --pure).")
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", description = "Input GGUF")
    Path in;

    @Parameters(index = "1", description = "Output GGUF")
    Path out;

    @Parameters(index = "2", description = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4")
    String type;

    @Override
    public Integer call() {
        GGMLType t;
        try {
            t = GGMLType.valueOf(type.toUpperCase());
        } catch (IllegalArgumentException e) {
            throw new TernException("unknown type '" + type + "'");
        }
        ModelQuantizer.requireQuantizable(t);
        long t0 = System.nanoTime();
        ModelQuantizer.quantize(in, out, t);
        spec.commandLine().getErr().printf("wrote %s (%s) in %.1f s%n", out, t, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
