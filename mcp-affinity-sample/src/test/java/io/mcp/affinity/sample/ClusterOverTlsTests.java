package io.mcp.affinity.sample;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.mcp.affinity.core.test.OwnerCertificate;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.sample.McpClients.Client;
import io.mcp.affinity.sample.ThreeInstanceClusterTests.SessionInfo;
import io.modelcontextprotocol.spec.McpSchema;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.util.FileSystemUtils;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three instances that serve https and register https addresses, as without a service mesh: instance 1 on the
 * servlet stack, the others on WebFlux, so forwards go over TLS from and to each stack, through the SSL bundle
 * {@code mcp.affinity.forwarding.ssl-bundle} names. Each one's start-up checked its own certificate against that bundle
 * (on by default). The front door re-encrypts to the instances, and the MCP Java SDK client talks to it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(OutputCaptureExtension.class)
class ClusterOverTlsTests {

	private Path certificates;

	private InProcessCluster cluster;

	@BeforeAll
	void startCluster() throws Exception {
		this.certificates = Files.createTempDirectory("mcp-affinity-tls-");
		OwnerCertificate certificate = OwnerCertificate.create(this.certificates);
		this.cluster = new InProcessCluster(3,
				List.of("--spring.data.redis.host=" + TestRedis.shared().host(),
						"--spring.data.redis.port=" + TestRedis.shared().port()),
				(index) -> List.of("--spring.main.web-application-type=" + ((index == 1) ? "servlet" : "reactive"),
						"--logging.level.io.mcp.affinity.autoconfigure.OwnCertificateCheck=debug"),
				certificate);
	}

	@AfterAll
	void stopCluster() throws Exception {
		this.cluster.close();
		FileSystemUtils.deleteRecursively(this.certificates);
	}

	@Test
	void eachInstanceCheckedItsOwnCertificateAgainstTheForwardingBundleAtStartUp(CapturedOutput output) {
		for (URI address : this.cluster.addresses()) {
			assertThat(output).contains("OwnCertificateChecked address=" + address);
		}
	}

	@Test
	void everyCallOfASessionReachesItsOwnerOverTlsFromEitherStack() {
		assertThat(this.cluster.addresses()).allSatisfy((address) -> assertThat(address.getScheme()).isEqualTo("https"));
		List<Client> clients = new ArrayList<>();
		try {
			Set<String> owners = new HashSet<>();
			// A session owned by each instance: the front door sends its initialize there alone, then goes round robin.
			for (int owner = 0; owner < 3; owner++) {
				for (int other = 0; other < 3; other++) {
					if (other != owner) {
						this.cluster.frontDoorRecord().exclude(other);
					}
				}
				try {
					clients.add(McpClients.streamable(this.cluster.frontDoor()));
				}
				finally {
					List.of(0, 1, 2).forEach(this.cluster.frontDoorRecord()::include);
				}
				owners.add(ThreeInstanceClusterTests.sessionInfo(clients.get(owner)).instance());
			}
			assertThat(owners).containsExactlyInAnyOrderElementsOf(
					this.cluster.addresses().stream().map(URI::toString).toList());
			for (Client client : clients) {
				String key = "k-" + client.sessionId.get();
				client.call("remember", Map.of("key", key, "value", "v-" + client.sessionId.get()));
				SessionInfo first = ThreeInstanceClusterTests.sessionInfo(client);
				for (int call = 1; call <= 3; call++) {
					assertThat(client.call("recall", Map.of("key", key))).isEqualTo("v-" + client.sessionId.get());
					SessionInfo info = ThreeInstanceClusterTests.sessionInfo(client);
					assertThat(info.instance()).startsWith("https://").isEqualTo(first.instance());
					assertThat(info.calls()).isEqualTo(first.calls() + 2L * call);
				}
			}
		}
		finally {
			clients.forEach(Client::close);
		}
	}

	@Test
	void samplingAnswersAndProgressCrossTheTlsHop() {
		try (Client client = McpClients.streamable(this.cluster.frontDoor())) {
			int owner = this.cluster.indexOf(ThreeInstanceClusterTests.sessionInfo(client).instance());
			for (int i = 0; i < 3; i++) {
				assertThat(client.call("ask_client", Map.of("question", "q" + i))).isEqualTo("echo: q" + i);
			}
			McpSchema.CallToolResult countdown = client.callWithProgress("countdown",
					Map.of("from", 3, "delayMs", 100), "tls-countdown");
			assertThat(((McpSchema.TextContent) countdown.content().get(0)).text()).isEqualTo("liftoff after 3 steps");
			List<Integer> answeredOn = this.cluster.answersRoutedTo(client.sessionId.get());
			assertThat(answeredOn).anyMatch((instance) -> instance != owner);
		}
	}

}
