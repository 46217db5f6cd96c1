package io.mcp.affinity.core.test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

/**
 * Connections to the shared {@link TestRedis} for one test, closed after it. Register with
 * {@code @RegisterExtension}.
 */
public final class RedisConnections implements AfterEachCallback {

	private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(30);

	private final List<LettuceConnectionFactory> factories = new ArrayList<>();

	/** A new template on its own connection to the shared Redis. */
	public ReactiveStringRedisTemplate template() {
		return TestRedis.template(factory());
	}

	/** A new started connection factory to the shared Redis. */
	public LettuceConnectionFactory factory() {
		LettuceConnectionFactory factory = TestRedis.shared().connectionFactory();
		this.factories.add(factory);
		return factory;
	}

	/** Closes a factory of another Redis with the others. */
	public <T extends LettuceConnectionFactory> T track(T factory) {
		this.factories.add(factory);
		return factory;
	}

	@Override
	public void afterEach(ExtensionContext context) {
		this.factories.forEach(RedisConnections::destroy);
		this.factories.clear();
	}

	// Lettuce's client shutdown waits with no bound for its connections and event loops to report that they closed. A CI
	// run hung there after a test of SessionOwnerResolverTests: the test thread waiting in AbstractRedisClient.shutdown,
	// no Lettuce thread left to complete it (redis/lettuce#2278, open; other projects' test suites bound the wait the same
	// way). The test's work is done by then; the next one goes on.
	private static void destroy(LettuceConnectionFactory factory) {
		try {
			CompletableFuture.runAsync(factory::destroy).get(SHUTDOWN_WAIT.toSeconds(), TimeUnit.SECONDS);
		}
		catch (TimeoutException ex) {
			System.err.println("A Redis connection factory did not shut down within " + SHUTDOWN_WAIT + "; left behind");
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
		catch (ExecutionException ex) {
			throw new IllegalStateException("Closing a Redis connection factory failed", ex.getCause());
		}
	}

}
