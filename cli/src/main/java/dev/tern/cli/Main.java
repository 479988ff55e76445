package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import picocli.CommandLine;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The {@code tern} command line: one subcommand per job. */
@Command(name = "tern", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "tern " + Tern.VERSION,
        description = "Pure-Java LLM inference for Llama-family models in GGUF.",
        subcommands = {RunCommand.class, ChatCommand.class, EmbedCommand.class, RerankCommand.class, InfoCommand.class, TokenizeCommand.class,
                PerplexityCommand.class, ImatrixCommand.class, QuantizeCommand.class, GgufSplitCommand.class, RandomModelCommand.class, BenchCommand.class,
                BatchedBenchCommand.class, ServeCommand.class, BenchServeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {
    /** Standard input for interactive commands; tests supply their own. */
    final InputStream in;
    @Spec
    CommandSpec spec;

    Main(InputStream in) {
        this.in = in;
    }

    /** A bare {@code tern}: the list of commands, as a usage error. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (OutOfMemoryError e) {
            System.err.println("tern: out of memory (raise the heap with TERN_JAVA_OPTS=-Xmx...)");
            code = 1;
        }
        System.exit(code);
    }

    /** Runs a command line on the process's stdout/stderr (UTF-8) and returns its exit code. */
    public static int run(String... args) {
        return run(new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8), true),
                new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.err), StandardCharsets.UTF_8), true), args);
    }

    /** Runs a command line and returns its exit code: 0 ok, 1 user-facing failure, 2 bad usage, 70 bug. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return run(System.in, out, err, args);
    }

    static int run(InputStream in, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main(in));
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOut(out);
        cl.setErr(err);
        // Bad usage is one line, as every other failure: the message and where the help is.
        cl.setParameterExceptionHandler((ex, badArgs) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("tern: " + ex.getMessage() + " (see " + cmd.getCommandSpec().qualifiedName() + " --help)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof TernException) {
                cmd.getErr().println("tern: " + ex.getMessage());
                return 1;
            }
            if (System.getenv("TERN_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            cmd.getErr().println("tern: internal error: " + ex + " (TERN_DEBUG=1 shows the stack trace)");
            return 70;
        });
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
