using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;

// The Pike (4.0.0) → Queens (5.0.0) migrations. Each one's ProposedAt is the date of the
// Dragonflow commit that made the change it carries over.
namespace DragonflowUpgrade.Dragonflow.Migrations
{
    /// <summary>
    /// Pike stored router-gateway and floating-IP ports with an empty topic; from commit
    /// b4354475 on, Dragonflow stores, looks up and deletes them under their switch's topic.
    /// </summary>
    [Migration("queens-lport-switch-topic", "queens", "2017-08-31T14:06:44Z",
        Description = "Store ports that have no topic under their switch's topic")]
    public sealed class LportSwitchTopic : IMigration
    {
        public void Apply(INbApi nb)
        {
            foreach (var port in nb.GetAll("lport"))
            {
                if (!string.IsNullOrEmpty(port["topic"] as string)) continue;
                if (!(port["lswitch"] is string swId)) continue;
                string? topic = nb.Get("lswitch", swId)?["topic"] as string;
                if (string.IsNullOrEmpty(topic)) continue;
                port["topic"] = topic;
                nb.Update("lport", port);
            }
        }
    }

    /// <summary>
    /// Queens serves DHCP from one port per network (commit 8619ce71); Pike made one per
    /// DHCP-enabled subnet. Neutron owns those ports, so this migration changes nothing and
    /// names every network that has several, with what the operator must do.
    /// </summary>
    [Migration("queens-dhcp-port-per-network", "queens", "2017-11-14T10:33:40Z",
        Description = "Warn about networks with more than one DHCP port")]
    public sealed class DhcpPortPerNetwork : IMigration
    {
        public void Apply(INbApi nb)
        {
            var byNetwork = nb.GetAll("lport")
                .Where(p => p["device_owner"] as string == "network:dhcp" && p["lswitch"] is string)
                .GroupBy(p => (string)p["lswitch"]!) // the Where above keeps only ports whose lswitch is a string
                .Where(g => g.Count() > 1);
            foreach (var network in byNetwork)
            {
                var sw = nb.Get("lswitch", network.Key);
                string? name = sw?["name"] as string;
                nb.Warn($"Network {network.Key}{(string.IsNullOrEmpty(name) ? "" : " (" + name + ")")} has {network.Count()} DHCP ports " +
                        $"({string.Join(", ", network.Select(p => p["id"] as string))}); Queens serves DHCP from one port per network and fails on this one. " +
                        "After the upgrade, keep one port, delete the others with 'neutron port-delete', and give the kept port one fixed IP on every DHCP-enabled subnet " +
                        "with 'neutron port-update <port> --fixed-ip subnet_id=...,ip_address=... ...' (see the README, 'After upgrading to Queens').");
            }
        }
    }

    /// <summary>Commit b59eed38 removed FloatingIp.name; Queens refuses objects with fields its model lacks.</summary>
    [Migration("queens-floatingip-drop-name", "queens", "2017-12-17T16:46:42Z",
        Description = "Remove the name field from floating IPs",
        Handles = new[] { "floatingip.name:FieldRemoved" })]
    public sealed class FloatingIpDropName : IMigration
    {
        public void Apply(INbApi nb)
        {
            foreach (var fip in nb.GetAll("floatingip"))
                if (fip.Remove("name")) nb.Update("floatingip", fip);
        }
    }

    /// <summary>
    /// Commit 395eeabf made Subnet a first-order model: every element of lswitch.subnets
    /// becomes an lsubnet object with the same id and fields, its switch's id in
    /// <c>lswitch</c>, its own topic (else the switch's), and version 0. Version 0 because a
    /// Queens controller ignores an update whose version is not newer than the one it holds,
    /// and Queens' Neutron plugin writes the subnet's Neutron revision there: a migrated
    /// subnet must start below any revision Neutron writes next.
    /// </summary>
    [Migration("queens-subnet-first-order-model", "queens", "2017-12-18T09:14:50Z",
        Description = "Move every switch's subnets into the lsubnet table",
        Handles = new[] { "lswitch.subnets:FieldRemoved", "lport.subnets:TypeChanged" })]
    public sealed class SubnetFirstOrderModel : IMigration
    {
        public void Apply(INbApi nb)
        {
            foreach (var sw in nb.GetAll("lswitch"))
            {
                if (!sw.ContainsKey("subnets")) continue;
                if (sw["subnets"] is List<object> subnets)
                {
                    foreach (var element in subnets.OfType<NbObject>())
                    {
                        var subnet = element.Clone();
                        if (string.IsNullOrEmpty(subnet["topic"] as string)) subnet["topic"] = sw["topic"];
                        subnet["version"] = 0L;
                        subnet["lswitch"] = sw["id"];
                        nb.Create("lsubnet", subnet);
                    }
                }
                sw.Remove("subnets");
                nb.Update("lswitch", sw);
            }
        }
    }
}
