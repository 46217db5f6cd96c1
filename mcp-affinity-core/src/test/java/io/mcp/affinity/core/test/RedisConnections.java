package io.mcp.affinity.core.test;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

/**
 * Connections to the shared {@link TestRedis} for one test, closed after it. Register with
 * {@code @RegisterExtension}.
 */
public final class RedisConnections implements AfterEachCallback {

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
		this.factories.forEach(LettuceConnectionFactory::destroy);
		this.factories.clear();
	}

}
