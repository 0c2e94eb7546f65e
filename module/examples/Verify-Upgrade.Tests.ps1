<#
    How an operator verifies a scripted upgrade of their own cloud with Pester 5: run the
    upgrade (Invoke-DfUpgrade, or Upgrade-Runbook.ps1) on a rehearsal cloud, then

        $data = @{ Inventory = './cloud.psd1'; Database = 'redis://10.0.0.5:6379/0'; TargetRelease = 'queens'
                   Backup = '/srv/df-upgrade/<the NB backup the upgrade named>.jsonl.gz' }
        Invoke-Pester -Container (New-PesterContainer -Path ./Verify-Upgrade.Tests.ps1 -Data $data) -Output Detailed

    Each It is a claim about the upgraded cloud; the backup is the cloud as it was before.
#>
param(
    [Parameter(Mandatory)][string] $Inventory,
    [Parameter(Mandatory)][string] $Database,
    [Parameter(Mandatory)][string] $TargetRelease,
    [Parameter(Mandatory)][string] $Backup,
    [string] $KnownHostsPath
)

BeforeAll {
    if (-not (Get-Module DragonflowUpgrade)) { Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') }
    $ssh = @{}
    if ($KnownHostsPath) { $ssh.KnownHostsPath = $KnownHostsPath }
    $nodes = Get-DfNode -Inventory $Inventory
}

Describe 'The upgraded cloud' {
    It 'has no migration pending up to the target release' {
        Get-DfMigration -Database $Database -Pending | Where-Object Release -LE $TargetRelease | Should -BeNullOrEmpty
    }

    It 'records the target release as the NB schema release' {
        (Get-DfSchema -Database $Database | Select-Object -First 1).Release | Should -Be $TargetRelease
    }

    It 'lost no port, router, security group or chassis that the backup had' {
        foreach ($table in 'lport', 'lrouter', 'secgroup', 'chassis') {
            $before = @(Get-DfNbObject -Database $Backup -Table $table).id
            $after = @(Get-DfNbObject -Database $Database -Table $table).id
            $before | Where-Object { $after -notcontains $_ } | Should -BeNullOrEmpty -Because "every $table of the backup is still there"
        }
    }

    It 'runs every service on every node' {
        $nodes | Get-DfServiceStatus @ssh | Where-Object Status -NE 'Running' |
            ForEach-Object { "$($_.Node.Name)/$($_.Service.Name) is $($_.Status)" } | Should -BeNullOrEmpty
    }

    It 'has a live control plane reporting in to the NB database' {
        $plane = $nodes | Test-DfUpgradeReadiness @ssh -Database $Database -TargetRelease $TargetRelease | Where-Object Check -EQ 'ControlPlane'
        $plane.Message | Should -Match 'report in'
        $plane.Message | Should -Not -Match 'control plane is down'
    }
}
