package io.mcp.affinity.core.test;

import java.time.Duration;
import java.util.function.Supplier;

/** Retries a step of setting up a Redis topology until it gives an answer. */
final class Waiting {

	private Waiting() {
	}

	/**
	 * Calls the step until it returns something other than {@code null} without throwing.
	 * @param timeout how long to keep trying
	 * @param step the step
	 * @return its first answer
	 */
	static <T> T until(Duration timeout, Supplier<T> step) {
		long deadline = System.nanoTime() + timeout.toNanos();
		RuntimeException last = null;
		while (System.nanoTime() - deadline < 0) {
			try {
				T answer = step.get();
				if (answer != null) {
					return answer;
				}
			}
			catch (RuntimeException ex) {
				last = ex;
			}
			try {
				Thread.sleep(100);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				throw new IllegalStateException(ex);
			}
		}
		throw new IllegalStateException("Redis topology not ready within " + timeout, last);
	}

}
