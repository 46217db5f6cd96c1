package io.mcp.affinity.core.test;

import java.util.Properties;
import java.util.function.Predicate;

import org.springframework.data.redis.connection.ReactiveRedisConnectionFactory;

/**
 * Counts the commands a Redis has processed, from {@code INFO commandstats}, leaving out {@code INFO} itself: the
 * proof that a code path made no Redis round trip.
 */
public final class RedisCommandCounter {

	private final ReactiveRedisConnectionFactory factory;

	public RedisCommandCounter(ReactiveRedisConnectionFactory factory) {
		this.factory = factory;
	}

	/** Commands processed so far, {@code INFO} excluded; commands run by scripts count too. */
	public long count() {
		return count((name) -> !name.equals("info"));
	}

	/** Round trips that ran a script so far ({@code EVAL} and {@code EVALSHA}). */
	public long scriptCalls() {
		return count((name) -> name.equals("eval") || name.equals("evalsha"));
	}

	private long count(Predicate<String> commands) {
		Properties stats = this.factory.getReactiveConnection().serverCommands().info("commandstats").block();
		long total = 0;
		for (String name : stats.stringPropertyNames()) {
			if (name.startsWith("cmdstat_") && commands.test(name.substring("cmdstat_".length()))) {
				String value = stats.getProperty(name);
				int start = value.indexOf("calls=") + "calls=".length();
				total += Long.parseLong(value.substring(start, value.indexOf(',', start)));
			}
		}
		return total;
	}

}
