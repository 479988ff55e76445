package dev.tern.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;

import java.time.ZonedDateTime;

/** The global functions transformers gives chat templates. */
final class TemplateFunctions {
    private TemplateFunctions() {
    }

    /** Context key of the render's clock reading, so strftime_now is testable. */
    static final String NOW = "__tern_now__";

    /** A template's own refusal; carries its message out of Jinjava. */
    static final class Raised extends RuntimeException {
        Raised(String message) {
            super(message);
        }
    }

    /** raise_exception(message): aborts rendering with the template's message. */
    public static String raiseException(Object message) {
        throw new Raised(String.valueOf(message));
    }

    /** strftime_now(format): the render time formatted with Python's strftime codes. */
    public static String strftimeNow(String format) {
        Object now = JinjavaInterpreter.getCurrent() == null ? null : JinjavaInterpreter.getCurrent().getContext().get(NOW);
        return Strftime.format(now instanceof ZonedDateTime z ? z : ZonedDateTime.now(), format);
    }
}
