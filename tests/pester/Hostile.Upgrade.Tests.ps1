# Bad input to the whole-upgrade cmdlets: inventories, commands, and state files that are
# damaged or belong to another cloud. Each is refused with an error naming what and where,
# and nothing is stopped or written. No service runs here: the nodes are the test sshd nodes,
# the database a file copy of the Pike sample.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . "$PSScriptRoot/../fixtures/remote/TestCloud.ps1"

    function New-Case {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory $dir | Out-Null
        $inventory = Join-Path $dir 'inventory.psd1'
        & "$PSScriptRoot/../fixtures/remote/New-TestInventory.ps1" -Path $inventory -RedisDb 58 -ServiceDir (Join-Path $dir 'services') -NodeCount 2
        $db = Join-Path $dir 'nb.jsonl'
        Copy-Item "$PSScriptRoot/../fixtures/pike-nb.jsonl" $db
        [pscustomobject]@{
            Dir = $dir; Db = $db; Backups = Join-Path $dir 'backups'
            Parameters = @{ Inventory = $inventory; Database = $db; TargetRelease = 'queens'; BackupPath = (Join-Path $dir 'backups')
                            KnownHostsPath = (Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'); Confirm = $false }
        }
    }

    # A state file as an interrupted upgrade of this case's cloud leaves it.
    # -Nodes: the nodes' names (each as the inventory has it, or on port 22 when it has none); -Port: another port for every node.
    # -Without: fields left out, as an earlier version of the module wrote the file.
    function Write-InterruptedState($Case, [string] $Database = $Case.Db, [string[]] $Nodes = @('node01', 'node02'), [int] $Port, [string[]] $Without = @()) {
        New-Item -ItemType Directory $Case.Backups -Force | Out-Null
        $known = Get-DfNode $Case.Parameters.Inventory
        $records = foreach ($name in $Nodes) {
            $n = $known | Where-Object Name -EQ $name
            @{ name = $name; address = if ($n) { $n.Address } else { '127.0.0.9' }; port = if ($Port) { $Port } elseif ($n) { $n.Port } else { 22 }
               user = if ($n) { $n.User } else { 'root' }; roles = @(if ($n) { $n.Roles } else { 'compute' }) }
        }
        $state = [ordered]@{
            format = 'dragonflow-upgrade-state/2'; id = '20260101T000000Z-abcdef'; database = $Database; inventory = $Case.Parameters.Inventory; nodes = @($records)
            neutron = $null; targetRelease = 'queens'; updateCommand = $null; revertCommand = $null
            status = 'Running'; startedAt = '2026-01-01T00:00:00Z'; updatedAt = '2026-01-01T00:00:00Z'
            steps = @('Stop', 'Update', 'Configure', 'BackupNeutron', 'MigrateNeutron', 'MigrateNb', 'Start', 'Verify' | ForEach-Object { @{ name = $_; state = if ($_ -eq 'Stop') { 'Running' } else { 'Pending' } } })
            updateAttempted = @(); updated = @(); optionManifest = $null; configurationChanges = @()
            neutronBackupPath = $null; neutronBackupChecksum = $null; neutronMigrationStarted = $false
            nbBackupPath = $null; nbBackupChecksum = $null; nbMigrationStarted = $false; failure = $null
        }
        foreach ($field in $Without) { $state.Remove($field) }
        $state | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $Case.Backups 'df-upgrade-state.json')
    }
}

Describe 'Invoke-DfUpgrade refuses bad input before it changes anything' {
    It 'refuses an inventory that does not exist, naming it' {
        $case = New-Case
        $p = $case.Parameters; $p.Inventory = Join-Path $case.Dir 'missing.psd1'
        { Invoke-DfUpgrade @p } | Should -Throw -ErrorId 'InventoryNotFound*'
    }

    It 'refuses an inventory that is not one (<Why>)' -ForEach @(
        @{ Why = 'not a .psd1 or .json file'; Name = 'inventory.txt'; Text = 'nodes' }
        @{ Why = 'a node without an address'; Name = 'inventory.psd1'; Text = "@{ Nodes = @(@{ Name = 'n1'; Roles = @('compute') }) }" }
    ) {
        $case = New-Case
        $path = Join-Path $case.Dir "bad-$Name"; Set-Content $path $Text
        $p = $case.Parameters; $p.Inventory = $path
        $e = { Invoke-DfUpgrade @p } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'Inventory*'
        $e.Exception.Message | Should -Match ([regex]::Escape($path))
        Test-Path $case.Backups | Should -BeFalse
    }

    It 'refuses -UpdateCommand without -RevertCommand' {
        $case = New-Case
        $p = $case.Parameters
        { Invoke-DfUpgrade @p -UpdateCommand 'true' } | Should -Throw -ErrorId 'UpgradeRevertCommandMissing*'
        Test-Path $case.Backups | Should -BeFalse
    }

    It 'refuses a command with <Case> before running anything' -ForEach @(
        @{ Case = 'an unknown placeholder'; Command = 'install {nod}' }
        # -UpdateCommand runs once per node, not per service: a {service} would be filled with nothing.
        @{ Case = '{service}, which a node command has no value for'; Command = 'apt-get install -y {service}' }
    ) {
        $case = New-Case
        $p = $case.Parameters
        $e = { Invoke-DfUpgrade @p -UpdateCommand $Command -RevertCommand 'true' } | Should -Throw -ErrorId 'UpgradeCommandInvalid*' -PassThru
        $e.Exception.Message | Should -BeLike '-UpdateCommand: {*} is not a placeholder: use {node}, {chassis}*'
        Test-Path $case.Backups | Should -BeFalse
    }

    It 'stops nothing when a node is unreachable, and names it' {
        $case = New-Case
        $inventory = Join-Path $case.Dir 'down.psd1'
        & "$PSScriptRoot/../fixtures/remote/New-TestInventory.ps1" -Path $inventory -RedisDb 58 -ServiceDir (Join-Path $case.Dir 'services') -NodeCount 1 `
            -ExtraNode @{ Name = 'down1'; Address = '127.0.0.254'; Roles = @('compute') }
        $p = $case.Parameters; $p.Inventory = $inventory
        $e = { Invoke-DfUpgrade @p -ConnectTimeout 2 } | Should -Throw -ErrorId 'UpgradeNotReady*' -PassThru
        $e.Exception.Message | Should -Match 'down1'
        Test-Path (Join-Path $case.Backups 'df-upgrade-state.json') | Should -BeFalse
    }
}

Describe 'A state file that is damaged or from another cloud' {
    It 'is refused as invalid, naming the file, by <Command>' -ForEach @(
        @{ Command = 'Invoke-DfUpgrade' }, @{ Command = 'Invoke-DfUpgrade -Resume' }, @{ Command = 'Undo-DfUpgrade' }
    ) {
        $case = New-Case
        New-Item -ItemType Directory $case.Backups | Out-Null
        $state = Join-Path $case.Backups 'df-upgrade-state.json'
        Set-Content $state '{"format": "dragonflow-upgrade-state/2", "id": '
        $p = $case.Parameters
        if ($Command -eq 'Undo-DfUpgrade') { $p.Remove('TargetRelease'); $e = { Undo-DfUpgrade @p } | Should -Throw -PassThru }
        elseif ($Command -like '*Resume') { $e = { Invoke-DfUpgrade @p -Resume } | Should -Throw -PassThru }
        else { $e = { Invoke-DfUpgrade @p } | Should -Throw -PassThru }
        $e.FullyQualifiedErrorId | Should -BeLike 'UpgradeStateInvalid*'
        $e.Exception.Message | Should -Match ([regex]::Escape($state))
        Get-Content $state -Raw | Should -Be "{`"format`": `"dragonflow-upgrade-state/2`", `"id`": `n"
    }

    It 'is refused when it names <Case>' -ForEach @(
        @{ Case = 'another database'; Other = 'db' }
        @{ Case = 'other nodes'; Other = 'nodes' }
        @{ Case = 'nodes of the same names at another port'; Other = 'port' }
    ) {
        $case = New-Case
        if ($Other -eq 'db') { Write-InterruptedState $case -Database (Join-Path $case.Dir 'other.jsonl') }
        elseif ($Other -eq 'port') { Write-InterruptedState $case -Port 2 }
        else { Write-InterruptedState $case -Nodes @('node01', 'node09') }
        $before = Get-Content (Join-Path $case.Backups 'df-upgrade-state.json') -Raw
        $p = $case.Parameters
        { Invoke-DfUpgrade @p -Resume } | Should -Throw -ErrorId 'UpgradeStateOtherCloud*'
        $p.Remove('TargetRelease')
        { Undo-DfUpgrade @p } | Should -Throw -ErrorId 'UpgradeStateOtherCloud*'
        Get-Content (Join-Path $case.Backups 'df-upgrade-state.json') -Raw | Should -Be $before
    }

    It 'is refused as written by an earlier version, naming the fields it lacks, when it has no <Missing>' -ForEach @(
        @{ Missing = 'nodes'; Without = @('nodes') }
        @{ Missing = 'Neutron setup'; Without = @('neutron') }
        @{ Missing = 'checksums'; Without = @('neutronBackupChecksum', 'nbBackupChecksum') }
    ) {
        $case = New-Case
        Write-InterruptedState $case -Without $Without
        $state = Join-Path $case.Backups 'df-upgrade-state.json'
        $before = Get-Content $state -Raw
        $p = $case.Parameters
        foreach ($command in { Invoke-DfUpgrade @p -Resume }, { Invoke-DfUpgrade @p }, { $p.Remove('TargetRelease'); Undo-DfUpgrade @p }) {
            $e = $command | Should -Throw -ErrorId 'UpgradeStateInvalid*' -PassThru
            $e.Exception.Message | Should -BeLike "*$state lacks $($Without -join ', '): an earlier version of this module wrote it*"
            $e.ErrorDetails.RecommendedAction | Should -BeLike '*module version that started it*move the file away*'
        }
        Get-Content $state -Raw | Should -Be $before
    }

    It 'makes a new upgrade refuse and say how to go on when it records an unfinished one' {
        $case = New-Case
        Write-InterruptedState $case
        $p = $case.Parameters
        $e = { Invoke-DfUpgrade @p } | Should -Throw -ErrorId 'UpgradeInterrupted*' -PassThru
        $e.Exception.Message | Should -Match 'step Stop'
        $e.ErrorDetails.RecommendedAction | Should -Match 'Resume.*Undo-DfUpgrade'
    }

    It 'is left as it is when <Command> is given a -RevertCommand with a bad placeholder, refused before anything is undone' -ForEach @(
        @{ Command = 'Invoke-DfUpgrade -Resume' }, @{ Command = 'Undo-DfUpgrade' }
    ) {
        $case = New-Case
        Write-InterruptedState $case
        $state = Join-Path $case.Backups 'df-upgrade-state.json'
        $before = Get-Content $state -Raw
        $p = $case.Parameters
        if ($Command -eq 'Undo-DfUpgrade') { $p.Remove('TargetRelease'); $e = { Undo-DfUpgrade @p -RevertCommand 'apt-get install -y {nod}' } | Should -Throw -PassThru }
        else { $e = { Invoke-DfUpgrade @p -Resume -RevertCommand 'apt-get install -y {nod}' } | Should -Throw -PassThru }
        $e.FullyQualifiedErrorId | Should -BeLike 'UpgradeCommandInvalid*'
        $e.Exception.Message | Should -BeLike '-RevertCommand: {nod} is not a placeholder*'
        Get-Content $state -Raw | Should -Be $before
    }

    It 'is not needed to say there is nothing to resume' {
        $case = New-Case
        $p = $case.Parameters
        { Invoke-DfUpgrade @p -Resume } | Should -Throw -ErrorId 'UpgradeNotFound*'
    }
}

Describe 'A target release older than the database' {
    It 'fails readiness naming the release the database is at, and Invoke-DfUpgrade stops nothing' {
        $case = New-Case
        # Migrated to queens without a baseline: only the applied migrations say where it is.
        Invoke-DfMigration -Database $case.Db -TargetRelease queens -BackupPath (New-Item -ItemType Directory (Join-Path $case.Dir 'mb')).FullName -Confirm:$false 3>$null | Out-Null
        $before = Get-Content $case.Db -Raw
        $p = $case.Parameters
        $p.TargetRelease = 'pike'; $p.Remove('Confirm')
        $check = Test-DfUpgradeReadiness @p | Where-Object Check -eq 'NbMigrations'
        $check.Status | Should -Be 'Failed'
        $check.Message | Should -BeLike '*already at queens, after pike*'
        $p.Confirm = $false
        $e = { Invoke-DfUpgrade @p } | Should -Throw -ErrorId 'UpgradeNotReady*' -PassThru
        $e.Exception.Message | Should -BeLike '*already at queens*'
        Get-Content $case.Db -Raw | Should -Be $before
        Test-Path (Join-Path $case.Backups 'df-upgrade-state.json') | Should -BeFalse
    }
}

Describe 'Nodes made without an inventory and given to -Node' {
    BeforeAll {
        # A node as Get-DfNode gives it, but for the names given; its commands would leave $Marker.
        function New-HostileNode($Case, [string] $Name, [string] $Chassis, [string] $Marker) {
            $good = Get-DfNode $Case.Parameters.Inventory | Select-Object -First 1
            $services = @($good.Services | ForEach-Object {
                [DragonflowUpgrade.Remote.NodeService]::new($_.Name, $_.Role, $_.Kind, $_.Heartbeat, "touch '$Marker'", "touch '$Marker'", "touch '$Marker'") })
            [DragonflowUpgrade.Remote.DfNode]::new($Name, $good.Address, $good.Port, $good.User, $good.IdentityFile, $Chassis,
                [string[]]$good.Roles, [DragonflowUpgrade.Remote.NodeService[]]$services, $null, [string[]]$good.ConfigFiles)
        }
    }

    It 'are refused by Invoke-DfUpgrade as the inventory refuses them (<Case>), before anything runs' -ForEach @(
        @{ Case = 'a command in the name'; Name = 'node01;touch${IFS}ran'; Chassis = 'node01'; Culprit = "the node name 'node01;touch`${IFS}ran' holds ';'" }
        @{ Case = 'a substitution in the chassis'; Name = 'node01'; Chassis = '$(touch ran)'; Culprit = "the chassis name '`$(touch ran)' starts with '`$'" }
        @{ Case = 'a newline in the name'; Name = "node01`ntouch ran"; Chassis = 'node01'; Culprit = "the node name 'node01\ntouch ran' holds U+000A" }
    ) {
        $case = New-Case
        $marker = Join-Path $case.Dir 'ran'
        $node = New-HostileNode $case $Name $Chassis $marker
        $p = $case.Parameters; $p.Remove('Inventory')
        $e = { Invoke-DfUpgrade @p -Node $node -UpdateCommand "touch '$marker' {node} {chassis}" -RevertCommand "touch '$marker'" } |
            Should -Throw -ErrorId 'InventoryNameInvalid*' -PassThru
        $e.Exception.Message | Should -BeLike "The node '*' given to -Node: $Culprit*"
        Test-Path $marker | Should -BeFalse
        Test-Path $case.Backups | Should -BeFalse
    }

    It 'are refused by Invoke-DfUpgrade when two machines have one name, as an inventory refuses them; the same node twice is one node' {
        $case = New-Case
        $marker = Join-Path $case.Dir 'ran'
        $nodes = @(Get-DfNode $case.Parameters.Inventory)
        $other = $nodes[1]
        $twin = [DragonflowUpgrade.Remote.DfNode]::new($nodes[0].Name, $other.Address, $other.Port, $other.User, $other.IdentityFile, $other.Chassis,
            [string[]]$other.Roles, [DragonflowUpgrade.Remote.NodeService[]]@($other.Services), $null, [string[]]$other.ConfigFiles)
        $p = $case.Parameters; $p.Remove('Inventory')
        $e = { $nodes[0], $twin | Invoke-DfUpgrade @p -UpdateCommand "touch '$marker'" -RevertCommand "touch '$marker'" } | Should -Throw -ErrorId 'InventoryInvalid*' -PassThru
        $e.Exception.Message | Should -BeLike "The nodes given to -Node: '$($nodes[0].Name)' names two nodes (*$($nodes[0].Address)*; *$($other.Address)*)*"
        Test-Path $marker | Should -BeFalse
        Test-Path $case.Backups | Should -BeFalse

        $rows = Invoke-DfUpgrade @p -Node $nodes[0], $nodes[0] -WhatIf
        @($rows | Where-Object Step -EQ 'Stop').Node | Should -Be @($nodes[0].Name)
    }

    It 'is refused by Stop-DfControlPlane with an error of its own, and nothing runs on it' {
        $case = New-Case
        $marker = Join-Path $case.Dir 'ran'
        $node = New-HostileNode $case 'node01 x' 'node01' $marker
        $results = $node | Stop-DfControlPlane -KnownHostsPath $case.Parameters.KnownHostsPath -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue
        $results | Should -BeNullOrEmpty
        @($errors).Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'InventoryNameInvalid*'
        $errors[0].Exception.Message | Should -BeLike "*the node name 'node01 x' holds U+0020 at position 7*"
        Test-Path $marker | Should -BeFalse
    }
}
