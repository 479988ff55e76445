package dev.tern.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;

import java.util.Map;

/**
 * Jinja2's {@code is iterable}, which is true for strings (Jinjava says false). Llama 3.x
 * templates JSON-quote tool results through {@code content is iterable}, so this changes the prompt.
 */
final class PyIterableTest implements ExpTest {

    @Override
    public String getName() {
        return "iterable";
    }

    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
        return var instanceof CharSequence || var instanceof Iterable<?> || var instanceof Map<?, ?>
                || (var != null && var.getClass().isArray());
    }
}
