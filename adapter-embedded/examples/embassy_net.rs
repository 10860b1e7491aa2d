//! sansmqtt-embedded on an embassy-net stack, as on a device: the network
//! stack runs in one embassy task, the MQTT connection and the application
//! in another, side by side (`select`), with embassy-time timers. On the
//! host the stack's link is a Linux TAP device (`embassy-net-tuntap`, as in
//! embassy's own std examples); on a board it is the board's Ethernet or
//! Wi-Fi driver, and nothing else below changes.
//!
//! The program connects to the broker, subscribes to `embassy/cmd/#`,
//! publishes a counter to `embassy/counter` every 5 s at QoS 1 and prints
//! the messages it receives. When the connection is lost it waits and
//! reconnects (with a new socket): the session survives, and an
//! unacknowledged QoS 1 publish is sent again.
//!
//! Built, not run, by the tests (`cargo build -p sansmqtt-embedded
//! --examples`; `test = false` in Cargo.toml keeps it out of test runs):
//! it needs a TAP device. To run it (as root, or with CAP_NET_ADMIN for the
//! set-up), with a broker listening on the host's side of the link:
//!
//! ```sh
//! sudo ip tuntap add name tap99 mode tap user $USER
//! sudo ip link set tap99 up
//! sudo ip addr add 192.168.69.100/24 dev tap99
//! mosquitto -c <(printf 'listener 1883 192.168.69.100\nallow_anonymous true\n') &
//! cargo run -p sansmqtt-embedded --example embassy_net
//! mosquitto_sub -h 192.168.69.100 -t embassy/counter &
//! mosquitto_pub -h 192.168.69.100 -t embassy/cmd/led -m on
//! ```
//!
//! `TAP` (default `tap99`) and `BROKER` (default `192.168.69.100:1883`)
//! change the device and the broker; the stack takes 192.168.69.2/24.

use core::net::SocketAddrV4;

use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Config as NetConfig, Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Duration, Timer};
use sansmqtt_embedded::{Client, Config, QoS, Resources};
use static_cell::StaticCell;

/// Read buffer 1 KiB, 4 received messages queued, 2 requests at a time.
type MqttResources = Resources<NoopRawMutex, 1024, 4, 2>;
type MqttClient = Client<'static, NoopRawMutex, 4, 2>;

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn mqtt_task(stack: embassy_net::Stack<'static>, broker: SocketAddrV4) {
    static RESOURCES: StaticCell<MqttResources> = StaticCell::new();
    let mut config = Config::new("embassy-example").expect("a valid client id");
    // Resume the session across reconnections, so that QoS 1 publishes in
    // flight are sent again and subscriptions stay.
    config.session.clean_start = false;
    config.session.keep_alive = core::time::Duration::from_secs(30);
    let (client, mut connection) =
        sansmqtt_embedded::new(RESOURCES.init(MqttResources::new()), config);

    // TCP buffers of embassy-net, per socket.
    let mut rx_buffer = [0u8; 2048];
    let mut tx_buffer = [0u8; 2048];
    loop {
        let mut socket = TcpSocket::new(stack, &mut rx_buffer, &mut tx_buffer);
        socket.set_timeout(Some(Duration::from_secs(60)));
        println!("connecting to {broker}");
        if let Err(e) = socket.connect(broker).await {
            println!("TCP connect failed: {e:?}");
            Timer::after_secs(5).await;
            continue;
        }
        // The connection and the application, side by side on this task.
        match select(connection.run(&mut socket), application(client)).await {
            Either::First(Ok(())) => println!("disconnected"),
            Either::First(Err(e)) if e.is_fatal() => {
                println!("the broker refuses this client: {e}");
                return;
            }
            Either::First(Err(e)) => println!("connection lost: {e}"),
            Either::Second(e) => println!("application stopped: {e}"),
        }
        socket.close();
        Timer::after_secs(5).await;
    }
}

/// What the device does while connected: publish a counter, print commands.
/// Returns only when a request fails (the connection is then lost too).
async fn application(client: MqttClient) -> sansmqtt_embedded::Error {
    if let Err(e) = client.subscribe("embassy/cmd/#", QoS::AtLeastOnce).await {
        return e;
    }
    let mut counter = 0u32;
    loop {
        match select(Timer::after_secs(5), client.deliver_message()).await {
            Either::First(()) => {
                counter += 1;
                let payload = counter.to_string();
                if let Err(e) = client
                    .publish(
                        "embassy/counter",
                        payload.as_bytes(),
                        QoS::AtLeastOnce,
                        false,
                    )
                    .await
                {
                    return e;
                }
                println!("published {counter}");
            }
            Either::Second(message) => println!(
                "received {}: {:?}",
                message.publish.topic.as_str(),
                String::from_utf8_lossy(&message.publish.payload)
            ),
        }
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let tap = std::env::var("TAP").unwrap_or_else(|_| "tap99".to_owned());
    let broker: SocketAddrV4 = std::env::var("BROKER")
        .unwrap_or_else(|_| "192.168.69.100:1883".to_owned())
        .parse()
        .expect("BROKER is an IPv4 address and port");
    let device = match TunTapDevice::new(&tap) {
        Ok(device) => device,
        Err(e) => {
            eprintln!("cannot open TAP device {tap}: {e} (see the set-up in this file's doc)");
            std::process::exit(1);
        }
    };
    let net_config = NetConfig::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(192, 168, 69, 2), 24),
        gateway: Some(Ipv4Address::new(192, 168, 69, 100)),
        dns_servers: Default::default(),
    });
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    static STACK: StaticCell<StackResources<3>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, net_config, STACK.init(StackResources::new()), seed);
    spawner.spawn(net_task(runner).expect("net task"));
    stack.wait_config_up().await;
    spawner.spawn(mqtt_task(stack, broker).expect("mqtt task"));
}
