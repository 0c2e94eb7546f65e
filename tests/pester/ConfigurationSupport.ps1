# Shared by the configuration Pester files: an inventory of the first test nodes, each with
# its own dragonflow.ini under the test drive (the test nodes share this machine's disk),
# logged into with the test key $Key (see sshd.server.ps1), on the test nodes' port or $Port.
function New-ConfigurationCloud([int] $NodeCount = 2, [string] $Key = 'id_ed25519', [int] $Port) {
    $cluster = Get-Content (Join-Path $env:DF_TEST_SSH_DIR 'nodes.json') -Raw | ConvertFrom-Json
    $dir = Join-Path $TestDrive "cloud-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $nodes = for ($i = 0; $i -lt $NodeCount; $i++) {
        $n = $cluster.Nodes[$i]
        New-Item -ItemType Directory (Join-Path $dir $n.Name) -Force | Out-Null
        "@{ Name = '$($n.Name)'; Address = '$($n.Address)'; Roles = 'compute'; DragonflowConfig = '$(Join-Path $dir $n.Name)/dragonflow.ini' }"
    }
    $inventory = Join-Path $dir 'inventory.psd1'
    @"
@{
    Defaults = @{ User = '$($cluster.User)'; Port = $(if ($Port) { $Port } else { $cluster.Port }); IdentityFile = '$(Join-Path $env:DF_TEST_SSH_DIR $Key)' }
    Nodes = @(
        $($nodes -join "`n        ")
    )
}
"@ | Set-Content $inventory
    $found = Get-DfNode $inventory
    [pscustomobject]@{
        Dir        = $dir
        Nodes      = $found
        Files      = @($found | ForEach-Object { $_.ConfigFiles[0] })
        Ssh        = @{ KnownHostsPath = (Join-Path $env:DF_TEST_SSH_DIR 'known_hosts') }
    }
}

$script:PikeIni = Join-Path $PSScriptRoot '../fixtures/pike-dragonflow.ini'

# Puts the Pike fixture (or -Text) in every node's file.
function Set-NodeConfiguration($Cloud, [string] $Text) {
    foreach ($file in $Cloud.Files) {
        Remove-Item $file -Recurse -Force -ErrorAction SilentlyContinue
        if ($PSBoundParameters.ContainsKey('Text')) { [IO.File]::WriteAllText($file, $Text) }
        else { Copy-Item $script:PikeIni $file }
    }
}

# An option manifest of a release after queens that renames two Queens options: [df] nb_db_class
# becomes nb_db_driver, and [df_snat_app] external_network_bridge moves to [df_external] bridge.
function New-RenamingManifest([string] $Path) {
    $m = Get-Content (Join-Path $PSScriptRoot '../../src/DragonflowUpgrade.Dragonflow/Options/queens.json') -Raw | ConvertFrom-Json -AsHashtable
    $m.release = 'next'
    $m.groups.df.Remove('nb_db_class')
    $m.groups.df.nb_db_driver = @{ type = 'string'; default = 'etcd_nb_db_driver'; deprecatedNames = @(@{ group = 'df'; name = 'nb_db_class' }) }
    $m.groups.df_snat_app.Remove('external_network_bridge')
    $m.groups.df_external = @{ bridge = @{ type = 'string'; default = 'br-ex'; deprecatedNames = @(@{ group = 'df_snat_app'; name = 'external_network_bridge' }) } }
    $m | ConvertTo-Json -Depth 8 | Set-Content $Path
    $Path
}
