package io.mcp.affinity.autoconfigure;

import java.net.URI;
import java.time.Duration;

import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipMode;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.memory.InMemoryOwnershipStore;
import io.mcp.affinity.core.memory.SingleInstanceRegistry;
import io.mcp.affinity.core.redis.RedisConnectionWatch;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.test.LocalRedisCluster;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.web.McpSessionAffinity;
import io.mcp.affinity.web.OwnerForwarder;
import io.mcp.affinity.web.SessionForwardingHttpHandler;
import io.mcp.affinity.web.SessionForwardingWebFilter;
import io.micrometer.tracing.Tracer;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.data.redis.autoconfigure.DataRedisAutoConfiguration;
import org.springframework.boot.data.redis.autoconfigure.DataRedisReactiveAutoConfiguration;
import org.springframework.boot.micrometer.tracing.autoconfigure.NoopTracerAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.cloud.gateway.filter.NettyRoutingFilter;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class McpAffinityAutoConfigurationTests {

	private final ReactiveWebApplicationContextRunner contextRunner = new ReactiveWebApplicationContextRunner()
		.withConfiguration(AutoConfigurations.of(DataRedisAutoConfiguration.class,
				DataRedisReactiveAutoConfiguration.class, McpAffinityAutoConfiguration.class,
				McpAffinityRoutingAutoConfiguration.class, McpAffinityWebFluxAutoConfiguration.class));

	private ReactiveWebApplicationContextRunner withRedis() {
		TestRedis redis = TestRedis.shared();
		return this.contextRunner.withPropertyValues("spring.data.redis.host=" + redis.host(),
				"spring.data.redis.port=" + redis.port(), "mcp.affinity.redis.key-prefix=" + TestRedis.uniquePrefix());
	}

	@Test
	void withoutRedisConfiguredItRunsAloneInMemory() {
		this.contextRunner.run((context) -> {
			assertThat(context).hasSingleBean(SessionOwnerResolver.class)
				.hasSingleBean(McpSessionAffinity.class)
				.hasSingleBean(OwnerForwarder.class);
			assertThat(context.getBean(OwnershipStore.class)).isInstanceOf(InMemoryOwnershipStore.class);
			assertThat(context.getBean(InstanceRegistry.class)).isInstanceOf(SingleInstanceRegistry.class);
			assertThat(context.getBean(InstanceIdentity.class).address()).isEqualTo(URI.create("http://localhost:8080"));
		});
	}

	@Test
	void withRedisConfiguredOwnershipIsSharedInTwoTiers() {
		withRedis().withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081").run((context) -> {
			assertThat(context).hasNotFailed();
			assertThat(context.getBean(OwnershipStore.class)).isInstanceOf(TwoTierOwnershipStore.class);
			assertThat(context.getBean(InstanceRegistry.class)).isInstanceOf(RedisInstanceRegistry.class);
			// What keeps the two tiers honest: ended sessions leave every L1, an unreachable Redis is noticed at once.
			assertThat(context).hasSingleBean(L1InvalidationListener.class).hasSingleBean(RedisConnectionWatch.class);
			InstanceIdentity self = context.getBean(InstanceIdentity.class);
			assertThat(self.address()).isEqualTo(URI.create("http://10.1.2.3:8081"));
			// The heartbeat registered this instance at start-up.
			assertThat(context.getBean(InstanceRegistry.class).findLive(self.epoch()).block()).isEqualTo(self);
		});
	}

	@Test
	void theRedisClientsReconnectAttemptsAreNeverFurtherApartThanTheRetryBackOff() {
		withRedis().withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081").run((context) -> {
			Delay reconnectDelay = context.getBean(ClientResources.class).reconnectDelay();
			// Lettuce's own default grows to 30 s; after a long outage, one instance could register that long after
			// another, which would take it for dead.
			assertThat(reconnectDelay.createDelay(20)).isEqualTo(Duration.ofSeconds(1));
			assertThat(reconnectDelay.createDelay(3)).isLessThan(Duration.ofSeconds(1));
		});
		// Another back-off, to show the cap follows the property (nothing here waits on it).
		withRedis()
			.withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081",
					"mcp.affinity.redis.retry-backoff=3s")
			.run((context) -> assertThat(context.getBean(ClientResources.class).reconnectDelay().createDelay(20))
				.isEqualTo(Duration.ofSeconds(3)));
	}

	@Test
	void onARedisClusterAnAnswerFromAnotherNodeDoesNotEndTheOutageOfAMasterUntilItsReplicaTookOver() throws Exception {
		try (LocalRedisCluster cluster = LocalRedisCluster.start()) {
			this.contextRunner
				.withPropertyValues("spring.data.redis.cluster.nodes=" + String.join(",", cluster.nodes()),
						"mcp.affinity.local-server-address=http://10.1.2.3:8081",
						// No heartbeat after the first within the test: nothing but the watch tells the store to ask.
						"mcp.affinity.heartbeat.interval=10m", "mcp.affinity.heartbeat.time-to-live=30m")
				.run((context) -> {
					TwoTierOwnershipStore store = context.getBean(TwoTierOwnershipStore.class);
					// A command to the key's master: the client holds a connection to it, which it will try to reconnect.
					context.getBean(StringRedisTemplate.class).opsForValue().set("a-key", "a-value");
					cluster.kill(cluster.masterOf("a-key"));
					await().atMost(Duration.ofSeconds(10)).until(store::isDegraded);
					// The heartbeat's answer, say: the other masters answer, the dead one still serves its slots.
					store.reportAnswer();
					assertThat(store.isDegraded()).as("still degraded while a master that serves slots is unreachable")
						.isTrue();
					// Its replica takes over within the cluster's node timeout: the watch sees it in the topology and
					// the store asks Redis at once, with no call or heartbeat of its own.
					await().atMost(Duration.ofSeconds(30)).until(() -> !store.isDegraded());
				});
		}
	}

	@Test
	void aKeyPrefixWithBracesOnARedisClusterFailsStartUpNamingThePropertyAndTheReason() {
		// A real cluster: Lettuce's cluster client reads the topology when the connection factory starts.
		try (LocalRedisCluster cluster = LocalRedisCluster.start()) {
			this.contextRunner
				.withPropertyValues("spring.data.redis.cluster.nodes=" + String.join(",", cluster.nodes()),
						"mcp.affinity.redis.key-prefix=app{1}:", "mcp.affinity.local-server-address=http://10.1.2.3:8081")
				.run((context) -> assertThat(context).getFailure()
					.rootCause()
					.isInstanceOf(InvalidConfigurationPropertyValueException.class)
					.hasMessageContaining("mcp.affinity.redis.key-prefix")
					.hasMessageContaining("hash tag")
					.hasMessageContaining("one slot"));
			this.contextRunner
				.withPropertyValues("spring.data.redis.cluster.nodes=" + String.join(",", cluster.nodes()),
						"mcp.affinity.redis.key-prefix=app:", "mcp.affinity.local-server-address=http://10.1.2.3:8081")
				.run((context) -> assertThat(context).hasNotFailed());
		}
	}

	@Test
	void withRedisConfiguredButNoAddressStartUpFailsNamingThePropertyAndAnExample() {
		withRedis().run((context) -> assertThat(context).getFailure()
			.rootCause()
			.isInstanceOf(InvalidConfigurationPropertyValueException.class)
			.hasMessageContaining("mcp.affinity.local-server-address")
			.hasMessageContaining("http://10.0.0.7:8080"));
	}

	@Test
	void anAddressWithoutPortFailsStartUpNamingTheProperty() {
		withRedis().withPropertyValues("mcp.affinity.local-server-address=http://pod-1.mcp").run((context) -> assertThat(
				context)
			.getFailure()
			.rootCause()
			.isInstanceOf(InvalidConfigurationPropertyValueException.class)
			.hasMessageContaining("mcp.affinity.local-server-address")
			.hasMessageContaining("has no port"));
	}

	@Test
	void anL1TimeToLiveLongerThanOwnershipFailsStartUpWithTheFix() {
		withRedis()
			.withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081",
					"mcp.affinity.ownership-time-to-live=30s", "mcp.affinity.l1.time-to-live=1m")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.hasMessageContaining("mcp.affinity.ownership-time-to-live")
				.hasMessageContaining("mcp.affinity.l1.time-to-live"));
	}

	@Test
	void requireSecretWithRedisAndNoSecretFailsStartUpNamingTheProperty() {
		withRedis()
			.withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081",
					"mcp.affinity.forwarding.require-secret=true")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.isInstanceOf(InvalidConfigurationPropertyValueException.class)
				.hasMessageContaining("mcp.affinity.forwarding.secret"));
	}

	@Test
	void aResponseTimeoutNoLongerThanTheConnectTimeoutFailsStartUpNamingBoth() {
		this.contextRunner
			.withPropertyValues("mcp.affinity.forwarding.connect-timeout=5s",
					"mcp.affinity.forwarding.response-timeout=5s")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.isInstanceOf(InvalidConfigurationPropertyValueException.class)
				.hasMessageContaining("mcp.affinity.forwarding.response-timeout")
				.hasMessageContaining("mcp.affinity.forwarding.connect-timeout"));
		this.contextRunner.withPropertyValues("mcp.affinity.forwarding.connect-timeout=0s")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.isInstanceOf(InvalidConfigurationPropertyValueException.class)
				.hasMessageContaining("mcp.affinity.forwarding.connect-timeout")
				.hasMessageContaining("positive"));
		this.contextRunner
			.withPropertyValues("mcp.affinity.forwarding.connect-timeout=5s",
					"mcp.affinity.forwarding.response-timeout=6s")
			.run((context) -> assertThat(context).hasNotFailed());
	}

	// The gateway would look it up at the first forward, and fail every forward.
	@Test
	void aGatewaySslBundleNameNoBundleHasFailsStartUpNamingTheProperty() {
		this.contextRunner.withPropertyValues("spring.cloud.gateway.server.webflux.httpclient.ssl.ssl-bundle=missing")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.isInstanceOf(InvalidConfigurationPropertyValueException.class)
				.hasMessageContaining("spring.cloud.gateway.server.webflux.httpclient.ssl.ssl-bundle")
				.hasMessageContaining("spring.ssl.bundle"));
	}

	@Test
	void aShortForwardingSecretFailsStartUpWithoutShowingIt() {
		this.contextRunner.withPropertyValues("mcp.affinity.forwarding.secret=tooshort")
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.hasMessageContaining("mcp.affinity.forwarding.secret")
				.hasMessageContaining("16 characters")
				.hasMessageNotContaining("tooshort"));
	}

	@Test
	void sessionIdOwnershipGivesTheResolverRoutedIdsAndKeepsTheStoreForOtherIds() {
		withRedis()
			.withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081",
					"mcp.affinity.ownership=session-id")
			.run((context) -> {
				assertThat(context.getBean(SessionOwnerResolver.class).ownershipMode())
					.isEqualTo(OwnershipMode.SESSION_ID);
				assertThat(context).hasSingleBean(TwoTierOwnershipStore.class);
			});
		withRedis().withPropertyValues("mcp.affinity.local-server-address=http://10.1.2.3:8081")
			.run((context) -> assertThat(context.getBean(SessionOwnerResolver.class).ownershipMode())
				.isEqualTo(OwnershipMode.STORE));
	}

	@Test
	void sessionIdOwnershipWithAnEpochIdsCannotNameFailsStartUpNamingThePropertyAndTheFix() {
		this.contextRunner.withPropertyValues("mcp.affinity.ownership=session-id")
			.withBean(InstanceIdentity.class, () -> new InstanceIdentity(URI.create("http://10.1.2.3:8081"), "pod-a"))
			.run((context) -> assertThat(context).getFailure()
				.rootCause()
				.isInstanceOf(InvalidConfigurationPropertyValueException.class)
				.hasMessageContaining("mcp.affinity.ownership")
				.hasMessageContaining("mcp.affinity.ownership=store"));
	}

	@Test
	void storeMemoryIgnoresAConfiguredRedis() {
		withRedis().withPropertyValues("mcp.affinity.store=memory")
			.run((context) -> assertThat(context.getBean(OwnershipStore.class)).isInstanceOf(InMemoryOwnershipStore.class));
	}

	@Test
	void propertiesBindToTheirDocumentedNames() {
		// Values unlike the defaults, only to see each one bound; nothing runs with them.
		this.contextRunner
			.withPropertyValues("mcp.affinity.ownership-time-to-live=10m", "mcp.affinity.refresh-interval=1m",
					"mcp.affinity.l1.time-to-live=20s", "mcp.affinity.l1.maximum-size=42",
					"mcp.affinity.redis.key-prefix=p:", "mcp.affinity.redis.operation-timeout=100ms",
					"mcp.affinity.forwarding.connect-timeout=1s", "mcp.affinity.forwarding.response-timeout=5s",
					"mcp.affinity.heartbeat.interval=2s", "mcp.affinity.heartbeat.time-to-live=7s")
			.run((context) -> {
				McpAffinityProperties properties = context.getBean(McpAffinityProperties.class);
				assertThat(properties.getOwnershipTimeToLive()).isEqualTo(Duration.ofMinutes(10));
				assertThat(properties.getRefreshInterval()).isEqualTo(Duration.ofMinutes(1));
				assertThat(properties.getL1().getTimeToLive()).isEqualTo(Duration.ofSeconds(20));
				assertThat(properties.getL1().getMaximumSize()).isEqualTo(42);
				assertThat(properties.getRedis().getKeyPrefix()).isEqualTo("p:");
				assertThat(properties.getRedis().getOperationTimeout()).isEqualTo(Duration.ofMillis(100));
				assertThat(properties.getForwarding().getConnectTimeout()).isEqualTo(Duration.ofSeconds(1));
				assertThat(properties.getForwarding().getResponseTimeout()).isEqualTo(Duration.ofSeconds(5));
				assertThat(properties.getHeartbeat().getInterval()).isEqualTo(Duration.ofSeconds(2));
				assertThat(properties.getHeartbeat().getTimeToLive()).isEqualTo(Duration.ofSeconds(7));
			});
	}

	@Test
	void backsOffToAUserOwnershipStore() {
		this.contextRunner.withUserConfiguration(UserStoreConfiguration.class)
			.run((context) -> assertThat(context.getBean(OwnershipStore.class))
				.isSameAs(context.getBean("userStore")));
	}

	@Test
	void disabledMeansNoAffinityBeans() {
		this.contextRunner.withPropertyValues("mcp.affinity.enabled=false")
			.run((context) -> assertThat(context).doesNotHaveBean(SessionOwnerResolver.class)
				.doesNotHaveBean(McpSessionAffinity.class));
	}

	@Test
	void withoutTheGatewayTheRoutingPartBacksOffAndOwnershipStays() {
		this.contextRunner.withClassLoader(new FilteredClassLoader(NettyRoutingFilter.class))
			.run((context) -> assertThat(context).hasSingleBean(SessionOwnerResolver.class)
				.doesNotHaveBean(McpSessionAffinity.class)
				.doesNotHaveBean(OwnerForwarder.class));
	}

	@Test
	void withNoTracerOrOnlyTheNoopOneForwardsAreMadeBeforeTheWebHandler() {
		this.contextRunner.run((context) -> assertThat(context).hasSingleBean(SessionForwardingHttpHandler.class)
			.doesNotHaveBean(SessionForwardingWebFilter.class));
		// micrometer-tracing on the class path without a bridge: Spring Boot's no-op tracer, which records nothing.
		this.contextRunner.withConfiguration(AutoConfigurations.of(NoopTracerAutoConfiguration.class))
			.run((context) -> {
				assertThat(context.getBean(Tracer.class)).isSameAs(Tracer.NOOP);
				assertThat(context).hasSingleBean(SessionForwardingHttpHandler.class)
					.doesNotHaveBean(SessionForwardingWebFilter.class);
			});
	}

	@Test
	void withATracerForwardsAreMadeUnderTheServerObservation() {
		this.contextRunner.withBean(Tracer.class, () -> Tracer.NOOP)
			.run((context) -> assertThat(context).hasSingleBean(SessionForwardingWebFilter.class)
				.doesNotHaveBean(SessionForwardingHttpHandler.class));
	}

	@Test
	void theMcpRouterOfSpringAiIsFilteredAndOtherRoutersAreNot() {
		this.contextRunner.withUserConfiguration(RoutersConfiguration.class).run((context) -> {
			assertThat(context.getBean("webFluxStreamableServerRouterFunction"))
				.isNotSameAs(RoutersConfiguration.MCP_ROUTER);
			assertThat(context.getBean("otherRouter")).isSameAs(RoutersConfiguration.OTHER_ROUTER);
		});
	}

	@Test
	void applyToMcpRouterFalseLeavesTheMcpRouterAlone() {
		this.contextRunner.withUserConfiguration(RoutersConfiguration.class)
			.withPropertyValues("mcp.affinity.apply-to-mcp-router=false")
			.run((context) -> assertThat(context.getBean("webFluxStreamableServerRouterFunction"))
				.isSameAs(RoutersConfiguration.MCP_ROUTER));
	}

	@Configuration(proxyBeanMethods = false)
	static class UserStoreConfiguration {

		@Bean
		OwnershipStore userStore() {
			return new InMemoryOwnershipStore();
		}

	}

	@Configuration(proxyBeanMethods = false)
	static class RoutersConfiguration {

		static final RouterFunction<ServerResponse> MCP_ROUTER = RouterFunctions.route()
			.POST("/mcp", (request) -> ServerResponse.ok().build())
			.build();

		static final RouterFunction<ServerResponse> OTHER_ROUTER = RouterFunctions.route()
			.GET("/other", (request) -> ServerResponse.ok().build())
			.build();

		@Bean
		RouterFunction<ServerResponse> webFluxStreamableServerRouterFunction() {
			return MCP_ROUTER;
		}

		@Bean
		RouterFunction<ServerResponse> otherRouter() {
			return OTHER_ROUTER;
		}

	}

}
