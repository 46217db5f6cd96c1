package io.mcp.affinity.core.test;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;

/** A Redis container, when a Docker engine answers; the shared {@link TestRedis} tries it second. */
final class ContainerRedis {

	private ContainerRedis() {
	}

	static TestRedis startIfDockerAnswers() {
		try {
			if (!DockerClientFactory.instance().isDockerAvailable()) {
				return null;
			}
			GenericContainer<?> redis = new GenericContainer<>("redis:7-alpine").withExposedPorts(6379);
			redis.start();
			Runtime.getRuntime().addShutdownHook(new Thread(redis::stop));
			return TestRedis.of(redis.getHost(), redis.getMappedPort(6379), "Testcontainers");
		}
		catch (RuntimeException | LinkageError ex) {
			// No engine, or it cannot pull the image here: fall through to the embedded binary.
			return null;
		}
	}

}
